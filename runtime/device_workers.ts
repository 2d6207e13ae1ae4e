/**
 * Worker threads that each own a GPU device (sequence parallelism, models/hunyuan_dit): started
 * one at a time, because a worker opens the GPU that this thread's environment names to Mesa's
 * device-select layer at that moment (gpu/pci.ts). Each worker's first message says how its
 * start went: `{ type: 'ready', adapter }` or a WorkerFailure.
 */
import type { Worker } from 'node:worker_threads';
import { hasDeviceSelectLayer, selectPciDevice } from './gpu/pci.ts';
import { startTsWorker } from './ts_worker.ts';

/** An error a worker posts instead of throwing across the thread boundary. */
export interface WorkerFailure {
  readonly type: 'error';
  readonly name: string;
  readonly message: string;
  readonly stack: string;
}

export function workerFailure(err: unknown): WorkerFailure {
  const e = err instanceof Error ? err : new Error(String(err));
  return { type: 'error', name: e.name, message: e.message, stack: e.stack ?? '' };
}

/** A worker's failure as an Error of this thread, saying which device (its stack is the worker's). */
function failureError(f: WorkerFailure, device: number): Error {
  const err = new Error(`device ${device}: ${f.message}`);
  err.name = f.name;
  err.stack = `${f.name}: device ${device}: ${f.message}\n${f.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

/**
 * The next message from a worker that `accept` takes (others, such as progress reports, are left
 * to other listeners), or its failure (a WorkerFailure, an error event, or exiting first).
 */
export function nextMessage<T>(worker: Worker, device: number, accept: (m: unknown) => boolean = () => true): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => { worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit); };
    const onMessage = (m: T | WorkerFailure) => {
      if ((m as WorkerFailure).type !== 'error' && !accept(m)) return;
      cleanup();
      if ((m as WorkerFailure).type === 'error') reject(failureError(m as WorkerFailure, device));
      else resolve(m as T);
    };
    const onError = (err: unknown) => { cleanup(); reject(err); };
    const onExit = (code: number) => { cleanup(); reject(new Error(`device ${device}'s worker exited (code ${code})`)); };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

export interface DeviceWorker {
  readonly worker: Worker;
  /** What the worker's device runs on (its KilnDevice.describe()). */
  readonly adapter: string;
}

/**
 * Starts a worker running `entry` per element of `data` (its workerData.data), the i-th on the GPU
 * at `pciAddresses[i]` if given (else on the default adapter), waiting for each to be ready. On a
 * failure the workers started so far are stopped.
 */
export async function startDeviceWorkers(entry: URL, data: readonly unknown[], opts: {
  readonly pciAddresses?: readonly string[];
  readonly onReady?: (device: number, adapter: string) => void;
} = {}): Promise<DeviceWorker[]> {
  const pci = opts.pciAddresses;
  if (pci && pci.length !== data.length) throw new RangeError(`${data.length} devices asked for, but ${pci.length} PCI addresses given`);
  if (pci && !hasDeviceSelectLayer()) selectPciDevice(pci[0]); // throws the error that says how to get the layer
  const started: DeviceWorker[] = [];
  try {
    for (let i = 0; i < data.length; i++) {
      const restore = pci ? selectPciDevice(pci[i]) : undefined;
      try {
        const worker = startTsWorker(entry, data[i]);
        started.push({ worker, adapter: '' });
        const ready = await nextMessage<{ type: 'ready'; adapter: string }>(worker, i);
        started[i] = { worker, adapter: ready.adapter };
        opts.onReady?.(i, ready.adapter);
      } finally {
        restore?.();
      }
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.worker.terminate()));
    throw err;
  }
  return started;
}
