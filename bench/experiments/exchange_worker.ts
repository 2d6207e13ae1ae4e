/**
 * A rank of bench/experiments/sequence_parallel_exchange.ts: what rankForward does around one
 * block's attention, without the block: q, k and v (laid out by destination) read back from its
 * device, shared, every source's part for this rank uploaded; the same for the attention's
 * output. Tensors of the released model's sizes, values irrelevant.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDevice } from '../../runtime/device.ts';
import { workerFailure } from '../../runtime/device_workers.ts';
import { partOf } from '../../models/hunyuan_dit/sequence_parallel.ts';
import { SharedRendezvous } from '../../models/hunyuan_dit/shared_rendezvous.ts';
import type { HostTensor } from '../../runtime/tensor.ts';

interface Job { rank: number; devices: number; tokens: number; text: number; hidden: number; rounds: number; control: SharedArrayBuffer; regions: SharedArrayBuffer[] }
const port = parentPort!;
try {
  const device = await openDevice({});
  port.postMessage({ type: 'ready', adapter: device.describe() });
  const { rank, devices, tokens, text, hidden, rounds, control, regions } = (workerData as { data: Job }).data;
  const tensor = (shape: number[]): HostTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(rank) });
  const ex = device.executor;
  const [q, k, v, oImg] = [0, 1, 2, 3].map(() => ex.upload(tensor([devices, 1, tokens, hidden / devices]), 'f32'));
  const oTxt = ex.upload(tensor([1, text, hidden / devices]), 'f32');
  const rendezvous = new SharedRendezvous(control, regions);
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    const [hq, hk, hv] = await Promise.all([q, k, v].map((t) => ex.read(t)));
    const sent = await rendezvous.share(rank, { q: hq, k: hk, v: hv });
    const received = await Promise.all(['q', 'k', 'v'].map((name) => ex.uploadStacked(sent.map((s) => partOf(s[name], rank)), 'f32')));
    const [hi, ht] = await Promise.all([oImg, oTxt].map((t) => ex.read(t)));
    const back = await rendezvous.share(rank, { o_img: hi, o_txt: ht });
    received.push(await ex.uploadStacked(back.map((s) => partOf(s.o_img, rank)), 'f32'), await ex.uploadStacked(back.map((s) => s.o_txt), 'f32'));
    await device.device.queue.onSubmittedWorkDone();
    for (const r of received) r.release();
    times.push(performance.now() - t0);
  }
  port.postMessage(times);
  device.destroy();
} catch (err) {
  port.postMessage(workerFailure(err));
}
