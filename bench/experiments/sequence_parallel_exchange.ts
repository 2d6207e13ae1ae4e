/**
 * What sequence parallelism's swaps cost (models/hunyuan_dit/sequence_parallel.ts): worker
 * threads with a device each, as WorkerSequenceParallelDit runs them, do what a rank does around
 * one block's attention — read back q, k, v and the attention's output, swap them through shared
 * memory, upload every source's part — with the released model's sizes and no block. Times 60
 * blocks, that is what a denoising step spends on swapping, besides the blocks' own kernels.
 *
 *   npx tsx bench/experiments/sequence_parallel_exchange.ts [--devices 2] [--tokens 14520] [--rounds 5] [--dtype f16|f32]
 *
 * --dtype: what the tensors cross in; f16 (default) as under `--dtype f16`, f32 as under f32 storage.
 *
 * --tokens is the image tokens per device: the released model at 720p x 129 frames has a 33 x 44
 * x 78 patch grid, shared on 8 GPUs as columns padded to 10: 33 x 44 x 10 = 14,520 per device;
 * hidden 3072, 256 text tokens. Devices are
 * the machine's first GPUs in PCI order, or all on the default adapter where it has fewer.
 */
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { CONTROL_BYTES } from '../../models/hunyuan_dit/shared_rendezvous.ts';
import { planDeviceGroup } from '../../runtime/device_group.ts';
import { nextMessage, startDeviceWorkers } from '../../runtime/device_workers.ts';
import { hasDeviceSelectLayer, pciGpus } from '../../runtime/gpu/pci.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '2' }, tokens: { type: 'string', default: '14520' }, rounds: { type: 'string', default: '5' }, dtype: { type: 'string', default: 'f16' } } });
const [devices, tokens, rounds] = [Number(values.devices), Number(values.tokens), Number(values.rounds)];
const dtype = values.dtype === 'f32' ? 'f32' : 'f16';
const element = dtype === 'f16' ? 2 : 4;
const hidden = 3072;
const text = 256;
const control = new SharedArrayBuffer(CONTROL_BYTES);
const regions = Array.from({ length: devices }, () => new SharedArrayBuffer(3 * tokens * hidden * element));
// Where the machine has fewer GPUs than devices asked for (or no device-select layer), the devices
// share the default adapter: the swaps' copies are the same, only the devices' copies contend.
const gpus = pciGpus();
const addresses = gpus.length >= devices && hasDeviceSelectLayer() ? planDeviceGroup(devices, gpus) : undefined;
const jobs = Array.from({ length: devices }, (_, rank) => ({ rank, devices, tokens, text, hidden, rounds, dtype, control, regions }));
const started = await startDeviceWorkers(new URL('./exchange_worker.ts', import.meta.url), jobs, { pciAddresses: addresses });
const times = await Promise.all(started.map((s, i) => nextMessage<number[]>(s.worker, i)));
await Promise.all(started.map((s) => s.worker.terminate()));
// A round ends for all when the slowest rank's does; the first round warms up.
const perRound = times[0].map((_, r) => Math.max(...times.map((t) => t[r])));
const best = Math.min(...perRound.slice(1));
// Per rank and block: 4 tensors of its tokens (q, k, v, output) read back and 4 uploaded.
const moved = 2 * 4 * tokens * hidden * element;
console.log(`${devices} devices (${addresses ? `GPUs ${addresses.join(', ')}` : `all on ${started[0].adapter}`}), ${cpus().length} CPUs; ${tokens} image tokens each, hidden ${hidden}, crossing in ${dtype}:`);
console.log(`  one block's swaps in ${best.toFixed(1)} ms (rounds: ${perRound.map((t) => t.toFixed(0)).join(', ')} ms), ${(moved / best / 1e6).toFixed(2)} GB/s read back and uploaded per device;` +
  ` x 60 blocks = ${((best * 60) / 1000).toFixed(2)} s per denoising step`);
