/**
 * A rank of the sequence-parallel benchmark (sequence_parallel.ts): what rankForward does around
 * one block's attention, without the block: q, k and v (laid out by destination) read back from
 * its device, shared, every source's part for this rank uploaded; the same for the attention's
 * output. Tensors of the released model's sizes, values irrelevant.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDevice } from '../../runtime/device.ts';
import { workerFailure } from '../../runtime/device_workers.ts';
import { partOfHost } from '../../runtime/tensor_axes.ts';
import { SharedRendezvous } from '../../models/hunyuan_dit/shared_rendezvous.ts';
import type { GpuTensor, StackPart } from '../../runtime/executor.ts';
import type { Shared } from '../../models/hunyuan_dit/rendezvous.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import type { SwapJob } from './sequence_parallel.ts';

const port = parentPort!;
try {
  const device = await openDevice({});
  port.postMessage({ type: 'ready', adapter: device.describe() });
  const { rank, devices, tokens, text, hidden, rounds, dtype, control, regions } = (workerData as { data: SwapJob }).data;
  const tensor = (shape: number[]): HostTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(rank) });
  const ex = device.executor;
  // f16: what the phases cross under --dtype f16 (ModelSession's half interface).
  const [q, k, v, oImg] = [0, 1, 2, 3].map(() => ex.upload(tensor([devices, 1, tokens, hidden / devices]), dtype));
  const oTxt = ex.upload(tensor([1, text, hidden / devices]), dtype);
  const host = dtype === 'f16' ? 'F16' as const : 'F32' as const;
  const rendezvous = new SharedRendezvous(control, regions);
  const times: number[] = [];
  // As rankForward: claim slots, read back into them (all but this rank's own part of what is
  // laid out by destination), publish; upload every source's part, this rank's own on the GPU.
  const publish = async (tensors: Record<string, GpuTensor>, byDestination: ReadonlySet<string>): Promise<Shared> => {
    const slots = await rendezvous.claim(rank, Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { dtype: host, shape: t.shape }])));
    await Promise.all(Object.entries(tensors).map(([n, t]) => ex.readInto(t, slots[n].data, byDestination.has(n) ? rank : undefined)));
    return rendezvous.publish(rank);
  };
  const mine = (shared: Shared, name: string, own: GpuTensor): StackPart[] => shared.map((s, source) => (source === rank ? { from: own, part: rank } : partOfHost(s[name], rank)));
  const qkv = { q, k, v };
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    const sent = await publish(qkv, new Set(['q', 'k', 'v']));
    const received: GpuTensor[] = [];
    for (const name of ['q', 'k', 'v'] as const) received.push(await ex.uploadStacked(mine(sent, name, qkv[name]), dtype));
    const back = await publish({ o_img: oImg, o_txt: oTxt }, new Set(['o_img']));
    received.push(await ex.uploadStacked(mine(back, 'o_img', oImg), dtype));
    received.push(await ex.uploadStacked(back.map((s, source) => (source === rank ? { from: oTxt } : s.o_txt)), dtype));
    await device.device.queue.onSubmittedWorkDone();
    for (const r of received) r.release();
    times.push(performance.now() - t0);
  }
  port.postMessage(times);
  device.destroy();
} catch (err) {
  port.postMessage(workerFailure(err));
}
