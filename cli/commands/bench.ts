/**
 * `kiln bench [SUITE...]`: the benchmark suite (bench/suite.ts). Writes bench/results.json and
 * bench/RESULTS.md; speed is measured here as ratios against baselines run in the same
 * process, never asserted in tests.
 */
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';

const HELP = `Usage: kiln bench [SUITE...] [--list] [--report]

Runs Kiln's benchmarks on this machine's GPU (or CPU adapter) and writes bench/results.json
(entries { name, value, unit, vs, ratio, adapter, command }) and bench/RESULTS.md. Every ratio
compares figures measured in the same run. Entries of suites not run keep their last values.

Suites (default: all but released-decode, released-dit and sequence-parallel):
  contractions     Kiln conv3d [1,128,5,64,64]->128 k3 and matmul 1024^3 against hand-written
                   WGSL baselines (bench/baselines/) and PyTorch on the CPU; tunes both kernels
                   (into bench/.cache/, not your tuning cache)
  attention        softmax attention, d 128 (24 heads x 4096 tokens on a GPU, 2 x 512 on a
                   CPU adapter): Kiln's flash kernel vs PyTorch (CPU; CUDA f32 and f16 SDPA
                   where PyTorch has a GPU), and on tensor cores vs the scalar kernel
  bandwidth        copy bandwidth; GroupNorm+SiLU and a residual add as a share of it
  vae              tiny and medium VAE decoder forward: time, kernels, planned peak, vs PyTorch
  tfjs             TensorFlow.js's WebGPU backend on the same Dawn device (matmul, conv2d)
  tiled-memory     planned and measured peak memory of tiled vs untiled decode as sizes grow
  released-decode  the released VAE config (random weights) decoding [1,16,2,16,16] with
                   64-pixel tiles: time and peaks (several minutes on a CPU adapter)
  released-dit     the released transformer's widths with one double and one single block
                   (random weights): block times, the step extrapolated to 20 + 40 blocks,
                   TFLOP/s per kernel kind; 720p at 129 frames on a GPU, a small grid on a
                   CPU adapter
  sequence-parallel  what the transformer's swaps between devices cost per block (kiln i2v
                   --devices): two worker threads with a device each read back, swap and
                   upload a block's q, k, v and attention output at 720p x 129 frames' sizes
                   for 8 GPUs, in f16 and f32

PyTorch comparisons need a python3 that can import torch (Debian: apt-get install python3-torch;
also install libopenblas0-pthread, or PyTorch's matmul runs on the reference BLAS).

Options:
  --list       List the suites and exit.
  --report     Only rewrite bench/RESULTS.md from bench/results.json (e.g. after editing
               bench/ANALYSIS.md); runs nothing.
  -h, --help   Show this help.

Examples:
  npm run bench
  node bin/kiln.js bench contractions
  node bin/kiln.js bench released-decode
  node bin/kiln.js bench released-dit`;

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Run the benchmarks (vs hand-written WGSL, PyTorch CPU, TF.js) and write bench/RESULTS.md',
  help: HELP,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { list: { type: 'boolean', default: false }, report: { type: 'boolean', default: false } } });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nRun \`kiln bench --help\` for the options.`);
    }
    // Loaded on demand: the suite pulls in the models and TensorFlow.js.
    const { SUITES, runBench, rewriteReport } = await import('../../bench/suite.ts');
    if (parsed.values.report) {
      console.log(`wrote ${rewriteReport()}`);
      return 0;
    }
    if (parsed.values.list) {
      for (const s of SUITES) console.log(`${s.name.padEnd(16)} ${s.title}${s.byDefault ? '' : ' (not in the default run)'}`);
      return 0;
    }
    const names = parsed.positionals.length ? parsed.positionals : SUITES.filter((s) => s.byDefault).map((s) => s.name);
    for (const n of names) {
      if (!SUITES.some((s) => s.name === n)) throw new UsageError(`unknown suite '${n}'; the suites are ${SUITES.map((s) => s.name).join(', ')}`);
    }
    const command = parsed.positionals.length ? `node bin/kiln.js bench ${argv.join(' ')}` : 'npm run bench';
    const { failed } = await runBench({ suites: names, command, log: (l) => console.log(l) });
    if (!failed.length) return 0;
    console.error(`kiln bench: ${failed.length} suite${failed.length === 1 ? '' : 's'} failed (the figures recorded before the failure are kept):`);
    for (const f of failed) console.error(`  ${f}`);
    return 1;
  },
};
