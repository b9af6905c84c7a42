#!/usr/bin/env bash
# Packs what the GPU check needs on a machine with no network and no Node (a rented or lent GPU machine) into one
# file, made here after `npm ci`:
#   bench/gpu-bundle.sh [FILE]      (default FILE: .gpu-bundle/tokenwave-gpu.tar.xz, about 40 MB)
# It holds this machine's Node binary, node_modules without what the check never loads (other platforms' Dawn
# builds, TypeScript, Playwright, the speech synthesizer, source maps, type declarations) and the Vulkan loader's
# Debian packages (libvulkan1 and libglvnd's libraries, amd64), installed there only where the system has none.
# There, with the checkout and FILE copied over:  bench/gpu-check.sh --bundle FILE [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
file="${1:-.gpu-bundle/tokenwave-gpu.tar.xz}"
if [ ! -d node_modules/webgpu/dist/linux-x64 ]; then
  echo "gpu-bundle: no node_modules with Dawn's linux-x64 build here: run 'npm ci' first" >&2
  exit 1
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "gpu-bundle: this machine is $(uname -m); the bundle carries this machine's Node and Dawn, so build it on x86-64" >&2
  exit 1
fi
node_bin="$(readlink -f "$(command -v node)")"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/debs" "$(dirname "$file")"
cp "$node_bin" "$stage/bin/node"

# The libraries NVIDIA's Vulkan driver needs beside the loader (libGLX_nvidia, which implements it, links to
# libglvnd's dispatch library).
if ! (cd "$stage/debs" && apt-get download libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0 >/dev/null 2>&1); then
  echo "gpu-bundle: could not download the Vulkan loader's packages (apt-get download): the bundle goes without; the GPU machine then needs its own libvulkan.so.1" >&2
  rm -f "$stage"/debs/*
fi
{
  echo "tokenwave GPU bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "node $("$stage/bin/node" --version) ($node_bin)"
  echo "packages: $(cd "$stage/debs" && ls | tr '\n' ' ')"
} >"$stage/MANIFEST"

echo "gpu-bundle: packing (xz; a minute or two)..."
tar -cf - \
  --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/darwin-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' --exclude=node_modules/typescript \
  --exclude=node_modules/playwright-core --exclude=node_modules/@echogarden \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' \
  node_modules -C "$stage" bin debs MANIFEST | xz -6 -T0 >"$file.partial"
mv "$file.partial" "$file"
cat "$stage/MANIFEST"
echo "gpu-bundle: $file, $(du -h "$file" | cut -f1)"
