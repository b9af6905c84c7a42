#!/usr/bin/env bash
# The GPU check: one command for a machine with a GPU, about 8 minutes, everything written to one folder.
#   bench/gpu-check.sh [--bundle FILE] [OUT]        (default OUT: gpu-check-<UTC time>)
# --bundle FILE: a machine with no network and no Node: Node, node_modules and the Vulkan loader come from FILE
#   (made by bench/gpu-bundle.sh), unpacked under /tmp; NVIDIA's driver files under /usr/local/nvidia are named.
# It runs, each step with its own time limit so that one slow step cannot starve the rest:
#   doctor (adapter, features, limits, timestamp resolution, peaks), what one load costs against a multiply-add,
#   the kernel tests with the hardware variants, `tune` for the two paper models (training shapes, batch 64), the
#   model benchmark against each peer (PyTorch on CUDA where its torch has it and on the CPU; TF.js and jax-js on
#   the same GPU), and a profile of a training step and of inference with their traces and rooflines.
# OUT/summary.txt says how each step ended and how long it took; each step's output is OUT/<step>.log. Record
# the figures in bench/README.md ("On a GPU"). Never a test's dependency: the test suite runs without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
bundle=""
if [ "${1:-}" = "--bundle" ]; then
  bundle="${2:?gpu-check: --bundle needs the file bench/gpu-bundle.sh made}"
  shift 2
  [ -f "$bundle" ] || { echo "gpu-check: no bundle at $bundle: make it with bench/gpu-bundle.sh on a machine with npm" >&2; exit 1; }
fi
out="${1:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

# From the bundle: its Node first on the PATH, its node_modules where the checkout has none, and the Vulkan
# loader where the system has none (into / as root, the machine being a throwaway one; else beside the bundle).
if [ -n "$bundle" ]; then
  unpacked="${TMPDIR:-/tmp}/tokenwave-bundle"
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  tar -xJf "$bundle" -C "$unpacked" || { echo "gpu-check: could not unpack $bundle" >&2; exit 1; }
  export PATH="$unpacked/bin:$PATH"
  [ -d node_modules ] || mv "$unpacked/node_modules" node_modules
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    if [ "$(id -u)" = 0 ]; then
      for deb in "$unpacked"/debs/*.deb; do dpkg -x "$deb" /; done
      ldconfig
    else
      for deb in "$unpacked"/debs/*.deb; do dpkg -x "$deb" "$unpacked/root"; done
      export LD_LIBRARY_PATH="$unpacked/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  fi
  # NVIDIA's container images keep the driver's manifests outside the folders the loaders search: added to
  # whatever drivers are found there (a software one included; the adapter request prefers the GPU)
  nvidia=/usr/local/nvidia/share
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}${VK_ADD_DRIVER_FILES:-}" ] && [ -f $nvidia/vulkan/icd.d/nvidia_icd.json ] &&
    ! ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json >/dev/null 2>&1; then
    export VK_ADD_DRIVER_FILES=$nvidia/vulkan/icd.d/nvidia_icd.json
  fi
  if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f $nvidia/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=$nvidia/glvnd/egl_vendor.d/10_nvidia.json
  fi
fi
if [ ! -d node_modules ]; then
  echo "gpu-check: no node_modules here: run 'npm ci' first (or, with no network, pass --bundle from bench/gpu-bundle.sh)" >&2
  exit 1
fi
cli=(node bin/tokenwave.js)
bench=(node --import tsx bench/run.ts)
failed=0

# step NAME SECONDS COMMAND...: runs COMMAND under a time limit, its output to OUT/NAME.log
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  echo "== $name (at most ${limit} s)"
  timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  local verdict="ok"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="stopped at its ${limit} s limit"; elif [ $rc -ne 0 ]; then verdict="failed (exit $rc)"; fi
  [ "$verdict" = ok ] || failed=1
  printf '%-16s %-34s %4d s\n' "$name" "$verdict" $((SECONDS - start)) | tee -a "$out/summary.txt"
}

{
  echo "tokenwave GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  echo "node $(node --version) at $(command -v node)${VK_ADD_DRIVER_FILES:+; VK_ADD_DRIVER_FILES=$VK_ADD_DRIVER_FILES}"
  [ -n "$bundle" ] && head -1 "$unpacked/MANIFEST"
} >"$out/summary.txt"

step doctor 40 "${cli[@]}" doctor --peaks
timeout --kill-after=5 40 "${cli[@]}" doctor --json >"$out/doctor.json" 2>/dev/null
step bench-loads 20 "${bench[@]}" loads
step kernel-tests 80 env TOKENWAVE_KERNELS=gpu node node_modules/vitest/vitest.mjs run test/elementwise.test.ts test/matmul.test.ts test/conv2d.test.ts \
  test/layout_reduce.test.ts test/nn_kernels.test.ts test/spectrogram.test.ts test/models.test.ts
step tune 80 "${cli[@]}" tune TASR_4L_8T-8H TASR_4L_NT-8H --batch 64 --train --json
step bench-pytorch 100 "${bench[@]}" pytorch --runs 3
step bench-tfjs 60 "${bench[@]}" tfjs --no-wasm --runs 3
step bench-jaxjs 60 "${bench[@]}" jaxjs --runs 3
for mode in train infer; do
  flag=()
  [ $mode = train ] && flag=(--train)
  step "profile-$mode" 40 "${cli[@]}" profile TASR_4L_8T-8H "${flag[@]}" --batch 64 --by kernel,module,phase \
    --trace "$out/trace-$mode.json" --roofline "$out/roofline-$mode.svg"
done

echo "everything is in $out/ (summary.txt first)"
exit $failed
