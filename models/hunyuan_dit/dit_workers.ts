/**
 * The sequence-parallel transformer with one worker thread per device (dit_worker.ts): each
 * worker opens its GPU, its weights and its session, and runs its rank of every forward; the
 * ranks swap tokens through shared memory (shared_rendezvous.ts). Threads, not one thread for all
 * devices, because the host copies of the exchange are the cost that grows with the video: each
 * rank's run in parallel.
 *
 * GPUs are chosen by PCI address (runtime/gpu/pci.ts): while a worker opens its device, this
 * thread's environment names that GPU to Mesa's device-select layer, so workers start one at a
 * time. Without PCI GPUs (a CPU adapter), the workers' devices share the default adapter.
 */
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../../runtime/ts_worker.ts';
import { selectPciDevice, hasDeviceSelectLayer } from '../../runtime/gpu/pci.ts';
import type { StorageMode } from '../../compiler/passes/storage.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { CONTROL_BYTES, SharedRendezvous } from './shared_rendezvous.ts';
import { joinShares, splitFor, type SequenceSplit } from './sequence_parallel.ts';
import type { DitConfig, DitInputs, DitModel } from './transformer.ts';

/** Where a worker gets the transformer's weights (each opens its own: weights cannot cross threads). */
export type DitWeightsRecipe = (
  | { readonly kind: 'random'; readonly seed: number; readonly label: string }
  | { readonly kind: 'checkpoint'; readonly path: string; readonly stateDictKey?: string }
) & { readonly lora?: { readonly path: string; readonly scale: number } };

export interface RankInit {
  readonly rank: number;
  readonly config: DitConfig;
  readonly weights: DitWeightsRecipe;
  readonly backend: 'webgpu' | 'interp';
  readonly dtype?: StorageMode;
  readonly tuning?: 'cache' | 'none';
}

export type ToRank =
  | { readonly type: 'forward'; readonly inputs: DitInputs; readonly split: SequenceSplit; readonly control: SharedArrayBuffer; readonly regions: readonly SharedArrayBuffer[] }
  | { readonly type: 'close' };

export type FromRank =
  | { readonly type: 'ready'; readonly adapter: string }
  | { readonly type: 'result'; readonly share: HostTensor }
  | { readonly type: 'error'; readonly name: string; readonly message: string; readonly stack: string };

export interface WorkerGroupOptions {
  readonly devices: number;
  readonly backend?: 'webgpu' | 'interp';
  readonly dtype?: StorageMode;
  readonly tuning?: 'cache' | 'none';
  /** The GPUs, one per device, by PCI address; undefined: the devices share the default adapter. */
  readonly pciAddresses?: readonly string[];
  /** Called as each worker's device is open, with what it runs on. */
  readonly onReady?: (rank: number, adapter: string) => void;
}

const startWorker = (init: RankInit): Worker => startTsWorker(new URL('./dit_worker.ts', import.meta.url), init);

/** An error a worker reported, as an Error of this thread (its stack is the worker's). */
function rebuilt(m: Extract<FromRank, { type: 'error' }>, rank: number): Error {
  const err = new Error(`device ${rank}: ${m.message}`);
  err.name = m.name;
  err.stack = `${m.name}: device ${rank}: ${m.message}\n${m.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

interface Rank {
  readonly worker: Worker;
  /** The next message's handler (one request at a time per worker). */
  next?: { resolve: (m: FromRank) => void; reject: (e: unknown) => void };
}

export class WorkerSequenceParallelDit implements DitModel {
  private readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  private regions: SharedArrayBuffer[] = [];
  private closed = false;

  private constructor(readonly config: DitConfig, private readonly ranks: readonly Rank[], readonly adapters: readonly string[],
    private readonly backend: 'webgpu' | 'interp') {}

  /** Starts one worker per device, one after another (each opens its GPU while the environment names it). */
  static async start(config: DitConfig, weights: DitWeightsRecipe, opts: WorkerGroupOptions): Promise<WorkerSequenceParallelDit> {
    const backend = opts.backend ?? 'webgpu';
    if (opts.pciAddresses && opts.pciAddresses.length !== opts.devices) throw new RangeError(`${opts.devices} devices asked for, but ${opts.pciAddresses.length} PCI addresses given`);
    if (opts.pciAddresses && !hasDeviceSelectLayer()) selectPciDevice(opts.pciAddresses[0]); // throws the error that says how to get the layer
    const ranks: Rank[] = [];
    const adapters: string[] = [];
    try {
      for (let rank = 0; rank < opts.devices; rank++) {
        const restore = opts.pciAddresses && backend === 'webgpu' ? selectPciDevice(opts.pciAddresses[rank]) : undefined;
        try {
          const r: Rank = { worker: startWorker({ rank, config, weights, backend, dtype: opts.dtype, tuning: opts.tuning }) };
          listen(r, rank);
          ranks.push(r);
          const ready = await request(r);
          if (ready.type !== 'ready') throw new Error(`internal: device ${rank} answered ${ready.type} to starting`);
          adapters.push(ready.adapter);
          opts.onReady?.(rank, ready.adapter);
        } finally {
          restore?.();
        }
      }
    } catch (err) {
      await Promise.all(ranks.map((r) => r.worker.terminate()));
      throw err;
    }
    return new WorkerSequenceParallelDit(config, ranks, adapters, backend);
  }

  get devices(): number {
    return this.ranks.length;
  }

  /** The predicted velocity, [B, out_channels, T', H', W'], as HunyuanDit.forward computes it. */
  async forward(inputs: DitInputs): Promise<HostTensor> {
    if (this.closed) throw new Error('this sequence-parallel transformer was closed');
    const split = splitFor(this.config, this.devices, inputs);
    this.ensureRegions(split, inputs);
    SharedRendezvous.reset(this.control);
    const results = this.ranks.map((r) => request(r, { type: 'forward', inputs, split, control: this.control, regions: this.regions }));
    // The first failure aborts the others' waits at the rendezvous; it is what the caller sees.
    let failure: unknown;
    const settled = await Promise.all(results.map((p) => p.catch((err: unknown) => {
      if (failure === undefined) {
        failure = err;
        SharedRendezvous.abort(this.control);
      }
      return undefined;
    })));
    if (failure !== undefined) throw failure;
    return joinShares(split, settled.map((m) => (m as Extract<FromRank, { type: 'result' }>).share));
  }

  /** Stops the workers (their devices and weights go with them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.ranks.map((r) => new Promise<void>((resolve) => {
      r.worker.once('exit', () => resolve());
      r.worker.postMessage({ type: 'close' } satisfies ToRank);
    })));
  }

  /**
   * Shared memory for the largest round: q, k and v of a rank's image tokens, [B, tokens, hidden]
   * each, in the sessions' host dtype (float64 from the interpreter, float32 from a GPU).
   */
  private ensureRegions(split: SequenceSplit, inputs: DitInputs): void {
    const batch = inputs.x.shape[0];
    const element = this.backend === 'interp' ? 8 : 4;
    const bytes = 3 * (Math.ceil((batch * split.tokens * this.config.hidden_size * element) / 8) * 8);
    if (this.regions.length === this.devices && this.regions[0].byteLength >= bytes) return;
    this.regions = Array.from({ length: this.devices }, () => new SharedArrayBuffer(bytes));
  }
}

function listen(r: Rank, rank: number): void {
  const fail = (err: unknown): void => {
    const next = r.next;
    r.next = undefined;
    next?.reject(err);
  };
  r.worker.on('message', (m: FromRank) => {
    const next = r.next;
    r.next = undefined;
    if (!next) return;
    if (m.type === 'error') next.reject(rebuilt(m, rank));
    else next.resolve(m);
  });
  r.worker.on('error', fail);
  r.worker.on('exit', (code) => fail(new Error(`device ${rank}'s worker exited (code ${code})`)));
}

/** Sends `message` (or nothing: waits for the worker's first message) and waits for the answer. */
function request(r: Rank, message?: ToRank): Promise<FromRank> {
  if (r.next) throw new Error('internal: a device got a request before answering the last');
  const answer = new Promise<FromRank>((resolve, reject) => { r.next = { resolve, reject }; });
  if (message) r.worker.postMessage(message);
  return answer;
}
