/**
 * A rank of the sequence-parallel benchmark (sequence_parallel.ts): what rankForward does around
 * one block's attention, without the block: q, k and v (laid out by destination) read back from
 * its device, shared, every source's part for this rank uploaded; the same for the attention's
 * output. Tensors of the released model's sizes, values irrelevant.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDevice } from '../../runtime/device.ts';
import { workerFailure } from '../../runtime/device_workers.ts';
import { partOf } from '../../models/hunyuan_dit/sequence_parallel.ts';
import { SharedRendezvous } from '../../models/hunyuan_dit/shared_rendezvous.ts';
import type { GpuTensor } from '../../runtime/executor.ts';
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
  // As rankForward's publishFrom: claim slots, read back into them, publish; then upload every source's part.
  const publish = async (tensors: Record<string, GpuTensor>): Promise<Shared> => {
    const slots = await rendezvous.claim(rank, Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { dtype: host, shape: t.shape }])));
    await Promise.all(Object.entries(tensors).map(([n, t]) => ex.readInto(t, slots[n].data)));
    return rendezvous.publish(rank);
  };
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    const sent = await publish({ q, k, v });
    const received: GpuTensor[] = [];
    for (const name of ['q', 'k', 'v']) received.push(await ex.uploadStacked(sent.map((s) => partOf(s[name], rank)), dtype));
    const back = await publish({ o_img: oImg, o_txt: oTxt });
    received.push(await ex.uploadStacked(back.map((s) => partOf(s.o_img, rank)), dtype), await ex.uploadStacked(back.map((s) => s.o_txt), dtype));
    await device.device.queue.onSubmittedWorkDone();
    for (const r of received) r.release();
    times.push(performance.now() - t0);
  }
  port.postMessage(times);
  device.destroy();
} catch (err) {
  port.postMessage(workerFailure(err));
}
