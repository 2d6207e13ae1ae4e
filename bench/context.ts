/**
 * The context a benchmark suite runs in: the device, where to log, the recorder for its
 * entries, the autotuner cache the benchmarks tune into (bench/.cache/, so a benchmark run
 * never rewrites the user's own cache), and the optional peers (PyTorch on the CPU,
 * TensorFlow.js) found on this machine.
 */
import { join } from 'node:path';
import type { KilnDevice } from '../runtime/device.ts';
import type { Recorder } from './harness.ts';
import type { TorchRunner } from './torch.ts';

export const BENCH_DIR = import.meta.dirname;
export const BENCH_CACHE_DIR = join(BENCH_DIR, '.cache');

export interface BenchContext {
  readonly dev: KilnDevice;
  readonly rec: Recorder;
  readonly log: (line: string) => void;
  /** PyTorch on the CPU, when `import torch` works for some python3 here. */
  readonly torch?: TorchRunner;
  /** Where this run's autotuner cache lives. */
  readonly tuneDir: string;
}
