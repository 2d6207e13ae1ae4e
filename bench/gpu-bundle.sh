#!/usr/bin/env bash
# Packs what bench/gpu.sh needs on a GPU machine that reaches no package registry, small
# enough to travel with the working tree (the device tool's limit is 64 MiB in all):
#   .gpu/kiln-runtime-linux-x64.tar.xz   this machine's Node binary and Kiln's production
#                                        node_modules, with Dawn's linux-x64 binary only
#                                        (no dev dependencies: the tfjs figure says it was skipped)
#   .gl/libvulkan1_*.deb                 Debian's Vulkan loader, for images without one
# On the GPU machine, bench/gpu.sh unpacks the runtime into /tmp/kiln-runtime when node or
# node_modules is missing there, and the loader .deb when ldconfig lists no libvulkan.
#
#   bash bench/gpu-bundle.sh       build both (skips the parts already there)
#   bash bench/gpu-bundle.sh --force   rebuild the runtime archive
#
# Both folders are ignored by git (.git/info/exclude); name them in the device call's carry.
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu-bundle.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

[ "$(uname -m)" = x86_64 ] || { echo "gpu-bundle.sh: the GPU machine is x86-64; build the bundle on an x86-64 machine" >&2; exit 1; }
[ -d node_modules/webgpu ] || { echo "gpu-bundle.sh: node_modules is missing; run scripts/setup.sh (or npm ci) first" >&2; exit 1; }
for d in .gpu .gl; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
mkdir -p .gpu .gl

archive=.gpu/kiln-runtime-linux-x64.tar.xz
if [ "$force" = 1 ] || [ ! -f "$archive" ]; then
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/bin"
  cp "$(command -v node)" "$stage/bin/node"
  # The production dependency closure, as npm resolved it from package-lock.json.
  npm ls --omit=dev --all --parseable | sed "s|^$PWD/||" | grep '^node_modules/' | sort -u > "$stage/packages.txt"
  tar -cf - --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
    --exclude='node_modules/webgpu/dist/linux-arm64' -T "$stage/packages.txt" | tar -xf - -C "$stage"
  node -p '`node ${process.version}, built ${new Date().toISOString()} from ${require("./package.json").name} ${require("./package.json").version}`' > "$stage/BUNDLE"
  echo "== packing Node and $(wc -l < "$stage/packages.txt") packages (xz; a minute or two)"
  tar -C "$stage" -cf - bin node_modules BUNDLE | xz -T0 -6 > "$archive.partial"
  mv "$archive.partial" "$archive"
fi
echo "runtime: $archive ($(du -h "$archive" | cut -f1))"

if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  # Download for amd64 whatever this machine's architecture, into lists of our own.
  lists=$(mktemp -d)
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1)
  rm -rf "$lists"
fi
echo "Vulkan loader: $(ls .gl/libvulkan1_*.deb)"

tracked=$(git ls-files -z | du -cb --files0-from=- | tail -n 1 | cut -f1)
carried=$(du -cb .gpu .gl | tail -n 1 | cut -f1)
mib() { echo $(( ($1 + 1048575) / 1048576 )); }
echo "travels: about $(mib "$tracked") MiB of tracked files + $(mib "$carried") MiB carried (.gpu, .gl); the limit is 64 MiB"
