/**
 * One rank of a sequence-parallel transformer, in a worker thread of its own (dit_workers.ts
 * starts it): its own Dawn device (the GPU the main thread's environment named while this
 * worker opened it), its own weights and session, and its share of each forward.
 */
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import { openDevice, type KilnDevice } from '../../runtime/device.ts';
import { workerFailure } from '../../runtime/device_workers.ts';
import { ModelSession, weightsFromMap, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import { loadWeights, openCheckpoint } from '../../runtime/weights/checkpoint.ts';
import { unwrapStateDict } from '../../runtime/weights/weight_source.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { withLora } from './lora.ts';
import { randomDitWeights } from './random_weights.ts';
import { rankForward } from './sequence_parallel.ts';
import { SharedRendezvous } from './shared_rendezvous.ts';
import { ditProgram } from './transformer.ts';
import type { RankInit, ToRank, FromRank } from './dit_workers.ts';

const init = (workerData as { data: RankInit }).data;
const port = parentPort!;
const post = (m: FromRank, transfer: TransferListItem[] = []): void => port.postMessage(m, transfer);
const closers: Array<() => void> = [];

function openWeights(options: SessionOptions): SessionWeights {
  const w = init.weights;
  let base: SessionWeights;
  if (w.kind === 'random') {
    base = weightsFromMap(randomDitWeights(init.config, w.seed), w.label);
  } else {
    const source = unwrapStateDict(loadWeights(w.path), w.stateDictKey ?? 'module');
    closers.push(() => source.close());
    base = source;
  }
  if (!w.lora) return base;
  const lora = openCheckpoint(w.lora.path);
  closers.push(() => lora.close());
  return withLora(base, lora, w.lora.scale, { session: options }).weights;
}

async function start(): Promise<{ session: ModelSession; device?: KilnDevice }> {
  const device = init.backend === 'webgpu' ? await openDevice({}) : undefined;
  if (device) {
    closers.push(() => device.destroy());
    device.weights.onUpload = (progress) => post({ type: 'upload', progress });
  }
  const options: SessionOptions = { backend: init.backend, device, dtype: init.dtype, tuning: init.tuning };
  const session = new ModelSession(ditProgram(), 'HYVideoDiffusionTransformer', { ...init.config }, openWeights(options), options);
  return { session, device };
}

try {
  const { session, device } = await start();
  post({ type: 'ready', adapter: device ? device.describe() : 'the interpreter' });
  port.on('message', (m: ToRank) => {
    if (m.type === 'close') {
      for (const close of closers.splice(0).reverse()) close();
      port.close();
      return;
    }
    const rendezvous = new SharedRendezvous(m.control, m.regions);
    // Whatever fails, also synchronously, is reported as this forward's failure.
    Promise.resolve().then(() => rankForward(session, init.config, m.split, init.rank, m.inputs, rendezvous)).then(
      (share: HostTensor) => {
        const whole = share.data.byteOffset === 0 && share.data.byteLength === share.data.buffer.byteLength;
        post({ type: 'result', share }, whole ? [share.data.buffer as ArrayBuffer] : []);
      },
      (err: unknown) => post(workerFailure(err)),
    );
  });
} catch (err) {
  post(workerFailure(err));
  for (const close of closers.splice(0).reverse()) close();
}
