#!/usr/bin/env bash
# Kiln on an NVIDIA GPU server (headless): install what is missing, check the goldens on the
# GPU against the reference outputs, run the benchmarks, and print a short table last.
#
#   bash bench/gpu.sh            everything: goldens (f32 and f16), all benchmark suites (the
#                                released transformer's blocks at 720p first, the default suites,
#                                then the released VAE's tiled decode)
#   bash bench/gpu.sh --quick    goldens of the VAE blocks and the contractions suite only
#   bash bench/gpu.sh --allow-cpu   go on when the adapter is not an NVIDIA GPU (e.g. to try
#                                the script on a CPU-only machine with Mesa's lavapipe)
#   bash bench/gpu.sh --save DIR    also copy the results (bench/results.json, runs.json,
#                                RESULTS.md), the golden logs and this script's whole output into
#                                DIR after every step, so a run cut short keeps what it finished
#
# What it needs and does (see docs/gpu.md and the shared gpu-server notes):
# - Node 20+ and node_modules. Where either is missing and bench/gpu-bundle.sh's archive
#   (.gpu/kiln-runtime-linux-x64.tar.xz, made on a machine with the npm registry) came along,
#   it is unpacked into /tmp/kiln-runtime and used; else `npm ci` is tried (needs the registry).
# - The Vulkan loader (libvulkan.so.1): if ldconfig lists none, a carried Debian package
#   (bench/debs/libvulkan1_*.deb or .gl/libvulkan1_*.deb) is unpacked into /, else
#   `apt-get install -y libvulkan1` is tried.
# - The NVIDIA driver's Vulkan ICD: if the loader finds no driver, VK_DRIVER_FILES is pointed
#   at the first nvidia_icd.json found in the usual places.
# - PyTorch for the comparisons is optional (`apt-get install python3-torch` for the CPU; a
#   CUDA build of PyTorch, where one is installed, adds the same ops timed on the GPU); without
#   it those figures are skipped and the rest still runs.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
ALLOW_CPU=0
SAVE=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --allow-cpu) ALLOW_CPU=1 ;;
    --save) [ $# -ge 2 ] || { echo "gpu.sh: --save needs a folder" >&2; exit 2; }; SAVE=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n== %s\n' "$*"; save; }
die() { echo "gpu.sh: $*" >&2; exit 1; }
# Copies what exists so far into --save's folder (a no-op without it).
save() {
  [ -n "$SAVE" ] || return 0
  for f in bench/results.json bench/runs.json bench/RESULTS.md /tmp/kiln-golden-f32.log /tmp/kiln-golden-f16.log /tmp/kiln-golden-sp.log; do
    if [ -f "$f" ]; then cp "$f" "$SAVE/"; fi
  done
}
if [ -n "$SAVE" ]; then
  mkdir -p "$SAVE"
  exec > >(tee -a "$SAVE/gpu-sh.log") 2>&1
fi
trap save EXIT

BUNDLE=.gpu/kiln-runtime-linux-x64.tar.xz
# node_modules is only replaced when absent (or our own link from an earlier run), never a user's folder.
if { ! command -v node >/dev/null || [ ! -e node_modules ] || [ -L node_modules ]; } && [ -f "$BUNDLE" ]; then
  step "Unpacking $BUNDLE into /tmp/kiln-runtime"
  rm -rf /tmp/kiln-runtime && mkdir -p /tmp/kiln-runtime
  if command -v xz >/dev/null; then tar -C /tmp/kiln-runtime -xJf "$BUNDLE"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$BUNDLE" /tmp/kiln-runtime; fi
  cat /tmp/kiln-runtime/BUNDLE
  command -v node >/dev/null || export PATH="/tmp/kiln-runtime/bin:$PATH"
  if [ ! -e node_modules ] || [ -L node_modules ]; then ln -sfn /tmp/kiln-runtime/node_modules node_modules; fi
fi

step "Node"
command -v node >/dev/null || die "node is not on PATH; install Node 20+, or carry bench/gpu-bundle.sh's .gpu folder with the project"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "Node $(node -v) is too old: Kiln needs Node 20+"
node -v

step "node_modules"
if [ ! -d node_modules/webgpu ] || [ ! -d node_modules/tsx ]; then
  command -v npm >/dev/null || die "node_modules is missing and npm is not available; carry bench/gpu-bundle.sh's .gpu folder"
  npm ci --no-audit --no-fund
else
  echo "present"
fi

step "Vulkan loader"
if ldconfig -p 2>/dev/null | grep 'libvulkan.so.1' >/dev/null; then
  echo "libvulkan.so.1 found"
else
  deb=$(ls bench/debs/libvulkan1_*.deb .gl/libvulkan1_*.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then
    echo "unpacking $deb"
    dpkg -x "$deb" /
    ldconfig
  elif command -v apt-get >/dev/null; then
    apt-get install -y libvulkan1 || { apt-get update && apt-get install -y libvulkan1; }
  fi
  ldconfig -p | grep 'libvulkan.so.1' >/dev/null || die "no Vulkan loader: carry Debian's libvulkan1 .deb in bench/debs/ or install libvulkan1"
fi

step "NVIDIA Vulkan driver"
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/lib/x86_64-linux-gnu/nvidia/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
  done
fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-(loader default)}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi not found"

step "Adapter"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
node bin/kiln.js devices
ADAPTER=$(node --import tsx -e "import('./runtime/device.ts').then(async (m) => { const d = await m.acquireDevice(); console.log(d.describe()); await m.releaseDevice(); })" 2>/dev/null | tail -n 1)
echo "Kiln uses: $ADAPTER"
if ! echo "$ADAPTER" | grep -i nvidia >/dev/null; then
  [ "$ALLOW_CPU" = 1 ] || die "the adapter is not an NVIDIA GPU ($ADAPTER); check the driver's ICD (VK_DRIVER_FILES) or pass --allow-cpu"
  echo "(not an NVIDIA GPU: going on because of --allow-cpu)"
fi

GOLDEN_STATUS=()
step "Goldens on the GPU (f32)"
if [ "$QUICK" = 1 ]; then
  set -- test/golden/causal_conv3d_*.safetensors test/golden/resnet_*.safetensors test/golden/midblock_*.safetensors test/golden/upsample_*.safetensors test/golden/downsample_*.safetensors
else
  set -- test/golden
fi
if node bin/kiln.js golden "$@" | tee /tmp/kiln-golden-f32.log; then GOLDEN_STATUS+=("f32: pass"); else GOLDEN_STATUS+=("f32: FAIL"); fi
step "Goldens on the GPU (f16 storage)"
if node bin/kiln.js golden --dtype f16 "$@" | tee /tmp/kiln-golden-f16.log; then GOLDEN_STATUS+=("f16: pass"); else GOLDEN_STATUS+=("f16: FAIL"); fi

GPUS=$(node --import tsx -e "import('./runtime/gpu/pci.ts').then((m) => console.log(m.pciGpus().length))" 2>/dev/null | tail -n 1)
if [ "${GPUS:-0}" -ge 2 ] && [ "$QUICK" = 0 ]; then
  step "Goldens of the transformer on 2 GPUs (sequence parallel, f16)"
  if node bin/kiln.js golden --devices 2 --dtype f16 test/golden/dit_tiny_token_replace.safetensors test/golden_upstream test/golden/pipeline_i2v_token_replace_tiny.safetensors | tee /tmp/kiln-golden-sp.log; then
    GOLDEN_STATUS+=("2 GPUs: pass"); else GOLDEN_STATUS+=("2 GPUs: FAIL"); fi
fi

step "Benchmarks"
# A failing suite keeps the figures it recorded (and the other suites run): go on to the summary.
BENCH_STATUS=pass
if [ "$QUICK" = 1 ]; then
  node bin/kiln.js bench contractions || BENCH_STATUS=FAIL
else
  # The released transformer's step first: on a machine that may be taken back, it is the figure that matters most.
  node bin/kiln.js bench released-dit || BENCH_STATUS=FAIL
  save
  # What sequence parallelism's swaps cost per block at 720p x 129 frames on 8 GPUs (shares of 14,520 tokens).
  node bin/kiln.js bench sequence-parallel || BENCH_STATUS=FAIL
  save
  node bin/kiln.js bench || BENCH_STATUS=FAIL
  save
  node bin/kiln.js bench released-decode || BENCH_STATUS=FAIL
fi

step "Summary"
echo "adapter: $ADAPTER"
echo "goldens: $(tail -n 1 /tmp/kiln-golden-f32.log) / f16: $(tail -n 1 /tmp/kiln-golden-f16.log)"
KILN_ADAPTER="$ADAPTER" node -e '
// results.json also holds figures of other adapters (the committed lavapipe run): show this adapter only.
const entries = require("./bench/results.json").filter((e) => e.adapter === process.env.KILN_ADAPTER);
const want = ["conv3d_vs_handwritten", "matmul_vs_handwritten", "conv3d_vs_pytorch_cpu", "conv3d_vs_pytorch_gpu", "matmul_vs_pytorch_gpu", "matmul_subgroup_matrix_gflops", "matmul_subgroup_matrix_vs_register_tiled", "matmul_tuned_with_subgroup_matrix_vs_register_tiled", "groupnorm_silu_vs_copy_bandwidth", "residual_add_vs_copy_bandwidth",
  "vae_decoder_standalone_elementwise_kernels", "vae_medium_decoder_ms", "matmul_vs_tfjs_webgpu", "attention_kiln_gflops", "attention_vs_pytorch_gpu", "attention_subgroup_matrix_gflops", "attention_subgroup_matrix_vs_scalar", "attention_subgroup_matrix_vs_pytorch_gpu_sdpa_f16", "released_dit_double_block_ms", "released_dit_single_block_ms", "released_dit_step_seconds", "released_dit_attention_tflops", "sequence_parallel_swaps_f16_ms_per_block", "sequence_parallel_swaps_step_seconds", "released_vae_tiled_decode_seconds"];
const rows = want.map((n) => entries.find((e) => e.name === n)).filter(Boolean);
const fmt = (x) => (x === null || x === undefined ? "-" : String(Number(Number(x).toPrecision(4))));
console.log("figure".padEnd(44) + "value".padStart(12) + "  unit".padEnd(12) + "ratio".padStart(10));
for (const e of rows) console.log(e.name.padEnd(44) + fmt(e.value).padStart(12) + ("  " + e.unit).padEnd(12) + (e.ratio === null ? "-" : fmt(e.ratio) + "x").padStart(10));
'
printf '%s\n' "${GOLDEN_STATUS[@]}"
echo "benchmarks: $BENCH_STATUS"
