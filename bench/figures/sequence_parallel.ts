/**
 * What sequence parallelism's swaps cost (models/hunyuan_dit/sequence_parallel.ts): worker
 * threads with a device each, as WorkerSequenceParallelDit runs them, do what a rank does around
 * one block's attention — read back q, k, v and the attention's output, swap them through shared
 * memory, upload every source's part, its own part staying on its device (swap_worker.ts) — at
 * the released model's sizes, with no block. Times 60 blocks, that is what a denoising step
 * spends swapping, besides the kernels.
 *
 * Sizes: 720p × 129 frames has a 33 × 44 × 78 patch grid, shared on 8 GPUs as columns padded
 * to 10: 14,520 image tokens per device; hidden 3072, 256 text tokens. Two devices do it here:
 * a device's copies are its own whatever the count, on the machine's first two GPUs, or both on
 * the default adapter where it has fewer (where the "GPU" copies are CPU copies too, on the
 * same cores: an upper bound for the host's part).
 */
import { cpus } from 'node:os';
import { CONTROL_BYTES } from '../../models/hunyuan_dit/shared_rendezvous.ts';
import { planDeviceGroup } from '../../runtime/device_group.ts';
import { nextMessage, startDeviceWorkers } from '../../runtime/device_workers.ts';
import { hasDeviceSelectLayer, pciGpus } from '../../runtime/gpu/pci.ts';
import type { BenchContext } from '../context.ts';
import { fmt } from '../harness.ts';

const DEVICES = 2;
const TOKENS = 14_520;
const HIDDEN = 3072;
const TEXT = 256;
const ROUNDS = 5;
const BLOCKS = 60;

export interface SwapJob {
  readonly rank: number;
  readonly devices: number;
  readonly tokens: number;
  readonly text: number;
  readonly hidden: number;
  readonly rounds: number;
  readonly dtype: 'f32' | 'f16';
  readonly control: SharedArrayBuffer;
  readonly regions: readonly SharedArrayBuffer[];
}

/** The best round's milliseconds (a round ends for all when the slowest rank's does; the first warms up). */
async function swapMs(dtype: 'f32' | 'f16', addresses: readonly string[] | undefined): Promise<{ ms: number; adapter: string }> {
  const element = dtype === 'f16' ? 2 : 4;
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const regions = Array.from({ length: DEVICES }, () => new SharedArrayBuffer(3 * TOKENS * HIDDEN * element));
  const jobs: SwapJob[] = Array.from({ length: DEVICES }, (_, rank) => ({ rank, devices: DEVICES, tokens: TOKENS, text: TEXT, hidden: HIDDEN, rounds: ROUNDS, dtype, control, regions }));
  const started = await startDeviceWorkers(new URL('./swap_worker.ts', import.meta.url), jobs, { pciAddresses: addresses });
  try {
    const times = await Promise.all(started.map((s, i) => nextMessage<number[]>(s.worker, i)));
    const perRound = times[0].map((_, r) => Math.max(...times.map((t) => t[r])));
    return { ms: Math.min(...perRound.slice(1)), adapter: started[0].adapter };
  } finally {
    await Promise.all(started.map((s) => s.worker.terminate()));
  }
}

export async function runSequenceParallel({ rec, log }: BenchContext): Promise<void> {
  const gpus = pciGpus();
  const addresses = gpus.length >= DEVICES && hasDeviceSelectLayer() ? planDeviceGroup(DEVICES, gpus) : undefined;
  const where = addresses ? `GPUs ${addresses.join(', ')}` : 'both devices on the default adapter';
  const ms: Record<'f16' | 'f32', number> = { f16: 0, f32: 0 };
  for (const dtype of ['f16', 'f32'] as const) {
    const r = await swapMs(dtype, addresses);
    ms[dtype] = r.ms;
    log(`  ${dtype}: ${fmt(r.ms)} ms per block (devices on ${r.adapter})`);
  }
  const shape = `${DEVICES} devices (${where}), ${TOKENS} image tokens each, hidden ${HIDDEN}, ${cpus().length} CPUs: read back, swapped through shared memory, uploaded`;
  for (const dtype of ['f16', 'f32'] as const) {
    rec.add(`sequence_parallel_swaps_${dtype}_ms_per_block`, ms[dtype], 'ms', null, null, `crossing in ${dtype}${dtype === 'f16' ? ' (--dtype f16)' : ''}; ${shape}`);
  }
  // A device reads back and uploads all but its own part: 1/2 of its tensors here, 7/8 on 8 GPUs.
  const toEight = (7 / 8) / ((DEVICES - 1) / DEVICES);
  rec.add('sequence_parallel_swaps_step_seconds', (ms.f16 * BLOCKS * toEight) / 1000, 's', null, null,
    `${BLOCKS} blocks x the f16 figure x ${fmt(toEight)} (a device swaps 7/8 of its tensors on 8 GPUs, ${DEVICES - 1}/${DEVICES} here): ` +
    'what a 720p x 129-frame step on 8 GPUs would spend swapping, besides its kernels');
}
