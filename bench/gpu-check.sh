#!/usr/bin/env bash
# The GPU check: one command for a machine with a GPU, about 8 minutes, everything written to one folder.
#   bench/gpu-check.sh [OUT]        (default OUT: gpu-check-<UTC time>)
# It runs, each step with its own time limit so that one slow step cannot starve the rest:
#   doctor (adapter, features, limits, timestamp resolution, peaks), the kernel tests with the hardware
#   variants, `tune` for the two paper models (training shapes, batch 64), the model benchmark (TF.js and jax-js
#   peers on the same GPU), and a profile
#   of a training step and of inference with their traces and rooflines.
# OUT/summary.txt says how each step ended and how long it took; each step's output is OUT/<step>.log. Record
# the figures in bench/README.md ("On a GPU"). Never a test's dependency: the test suite runs without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
out="${1:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
if [ ! -d node_modules ]; then
  echo "gpu-check: no node_modules here: run 'npm ci' first" >&2
  exit 1
fi
cli=(node bin/tokenwave.js)
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
} >"$out/summary.txt"

step doctor 40 "${cli[@]}" doctor --peaks
"${cli[@]}" doctor --json >"$out/doctor.json" 2>/dev/null
step kernel-tests 120 env TOKENWAVE_KERNELS=gpu npx vitest run test/elementwise.test.ts test/matmul.test.ts test/conv2d.test.ts \
  test/layout_reduce.test.ts test/nn_kernels.test.ts test/spectrogram.test.ts test/models.test.ts
step tune 80 "${cli[@]}" tune TASR_4L_8T-8H TASR_4L_NT-8H --batch 64 --train --json
step bench-models 100 npm run bench -- models --runs 3
step bench-jaxjs 60 npm run bench -- jaxjs --runs 3
for mode in train infer; do
  flag=()
  [ $mode = train ] && flag=(--train)
  step "profile-$mode" 40 "${cli[@]}" profile TASR_4L_8T-8H "${flag[@]}" --batch 64 --by kernel,module,phase \
    --trace "$out/trace-$mode.json" --roofline "$out/roofline-$mode.svg"
done

echo "everything is in $out/ (summary.txt first)"
exit $failed
