#!/usr/bin/env bash
# Kiln set-up for a fresh Debian 12 machine (run as root, Node >= 20 installed):
#   1. system packages: ffmpeg (video files), python3-pil (a test oracle), and — only when Dawn
#      finds no Vulkan device — Mesa's Vulkan driver lavapipe from bookworm-backports (Debian 12's
#      own Mesa 22.3 is too old for Dawn);
#   2. the npm dependencies (npm ci);
#   3. unless --no-demo: the built-in demo (`kiln vae demo`), which encodes and decodes a
#      generated clip with a tiny random-weight VAE on the GPU and writes out/demo_*.mp4.
# On a GPU server the vendor driver provides Vulkan and nothing is installed for it (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

run_demo=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) run_demo=0 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: installing system packages needs root; run it as root (or with sudo)" >&2
    exit 1
  fi
}

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup.sh: Kiln needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  need_root
  if [ "$apt_updated" = 0 ]; then apt-get update -q; apt_updated=1; fi
  apt-get install -y -q --no-install-recommends "$@"
}

if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "== installing ffmpeg (mp4 input and output)"
  apt_install ffmpeg
fi

# The tests check Kiln's copy of Pillow's image resampler (I2V reference images) against Pillow
# itself, run by Debian's python3 (test/models/i2v/pil_resize.py).
if ! /usr/bin/python3 -c 'import PIL' >/dev/null 2>&1; then
  echo "== installing python3-pil (the oracle for the tests of Kiln's image resampler)"
  apt_install python3-pil
fi

echo "== installing npm dependencies"
npm ci --no-audit --no-fund

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/kiln-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

if node scripts/probe-webgpu.mjs; then
  echo "== a Vulkan device is present; no driver to install"
else
  echo "== no Vulkan device: installing Mesa's lavapipe (CPU Vulkan driver) from bookworm-backports"
  need_root
  sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ] && ! grep -q 'bookworm-backports' "$sources"; then
    sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$sources"
  fi
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  apt_updated=0
  apt_install -t bookworm-backports mesa-vulkan-drivers libvulkan1
  node scripts/probe-webgpu.mjs || {
    echo "setup.sh: Dawn still finds no Vulkan adapter after installing lavapipe; see docs/gpu.md" >&2
    exit 1
  }
fi

if [ "$run_demo" = 1 ]; then
  echo "== running the built-in demo: kiln vae demo"
  node bin/kiln.js vae demo
fi
