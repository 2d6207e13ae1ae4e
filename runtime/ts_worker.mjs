// A worker thread's first module: it installs tsx's loader, as bin/kiln.js does for the main
// thread, then imports the TypeScript entry named in workerData.entry (runtime/ts_worker.ts).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
