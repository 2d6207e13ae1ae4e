/** Worker threads whose code is Kiln's TypeScript, run through tsx's loader like the main thread. */
import { Worker } from 'node:worker_threads';

/** A worker running `entry` (a module URL); it reads `data` as workerData.data. */
export function startTsWorker(entry: URL, data: unknown): Worker {
  return new Worker(new URL('./ts_worker.mjs', import.meta.url), { workerData: { entry: entry.href, data } });
}
