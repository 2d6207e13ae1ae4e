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
import { nextMessage, startDeviceWorkers, type WorkerFailure } from '../../runtime/device_workers.ts';
import type { StorageMode } from '../../compiler/passes/storage.ts';
import type { UploadProgress } from '../../runtime/gpu/weight-store.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { CONTROL_BYTES, SharedRendezvous } from './shared_rendezvous.ts';
import { joinShares, rankInputs, splitFor, type RankInputs, type SequenceSplit } from './sequence_parallel.ts';
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
  | { readonly type: 'forward'; readonly inputs: RankInputs; readonly split: SequenceSplit; readonly control: SharedArrayBuffer; readonly regions: readonly SharedArrayBuffer[] }
  | { readonly type: 'close' };

export type FromRank =
  | { readonly type: 'ready'; readonly adapter: string }
  | { readonly type: 'result'; readonly share: HostTensor }
  | { readonly type: 'upload'; readonly progress: UploadProgress }
  | WorkerFailure;

export interface WorkerGroupOptions {
  readonly devices: number;
  readonly backend?: 'webgpu' | 'interp';
  readonly dtype?: StorageMode;
  readonly tuning?: 'cache' | 'none';
  /** The GPUs, one per device, by PCI address; undefined: the devices share the default adapter. */
  readonly pciAddresses?: readonly string[];
  /** Called as each worker's device is open, with what it runs on. */
  readonly onReady?: (rank: number, adapter: string) => void;
  /** Called after each weight a worker uploads (its first forward uploads the whole model). */
  readonly onUpload?: (rank: number, progress: UploadProgress) => void;
}

export class WorkerSequenceParallelDit implements DitModel {
  private readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  private regions: SharedArrayBuffer[] = [];
  private closed = false;
  /** Workers that have exited (crashed, or closed). */
  private readonly exited = new Set<number>();

  private constructor(readonly config: DitConfig, private readonly workers: readonly Worker[], readonly adapters: readonly string[],
    private readonly backend: 'webgpu' | 'interp', private readonly dtype: StorageMode) {
    workers.forEach((w, rank) => w.once('exit', () => this.exited.add(rank)));
  }

  /** Starts one worker per device, one after another (each opens its GPU while the environment names it). */
  static async start(config: DitConfig, weights: DitWeightsRecipe, opts: WorkerGroupOptions): Promise<WorkerSequenceParallelDit> {
    const backend = opts.backend ?? 'webgpu';
    const inits: RankInit[] = Array.from({ length: opts.devices }, (_, rank) => ({ rank, config, weights, backend, dtype: opts.dtype, tuning: opts.tuning }));
    const started = await startDeviceWorkers(new URL('./dit_worker.ts', import.meta.url), inits, {
      pciAddresses: backend === 'webgpu' ? opts.pciAddresses : undefined, onReady: opts.onReady,
    });
    started.forEach((s, rank) => s.worker.on('message', (m: FromRank) => { if (m.type === 'upload') opts.onUpload?.(rank, m.progress); }));
    return new WorkerSequenceParallelDit(config, started.map((s) => s.worker), started.map((s) => s.adapter), backend, opts.dtype ?? 'f32');
  }

  get devices(): number {
    return this.workers.length;
  }

  /** The predicted velocity, [B, out_channels, T', H', W'], as HunyuanDit.forward computes it. */
  async forward(inputs: DitInputs): Promise<HostTensor> {
    if (this.closed) throw new Error('this sequence-parallel transformer was closed');
    if (this.exited.size > 0) {
      throw new Error(`device ${[...this.exited].join(', ')} of the sequence-parallel transformer stopped (see the error it reported); start the transformer again`);
    }
    const split = splitFor(this.config, this.devices, inputs);
    this.ensureRegions(split, inputs);
    SharedRendezvous.reset(this.control);
    const results = this.workers.map((w, rank) => {
      const answer = nextMessage<Extract<FromRank, { type: 'result' }>>(w, rank, (m) => (m as FromRank).type === 'result');
      // Each worker gets its own slices of the latents and tables, not the whole inputs.
      w.postMessage({ type: 'forward', inputs: rankInputs(this.config, split, inputs, rank), split, control: this.control, regions: this.regions } satisfies ToRank);
      return answer;
    });
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
    return joinShares(this.config, split, settled.map((m) => m!.share));
  }

  /** Stops the workers (their devices and weights go with them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w, rank) => this.exited.has(rank) ? undefined : new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.postMessage({ type: 'close' } satisfies ToRank);
    })));
  }

  /**
   * Shared memory for the largest round: q, k and v of a rank's image tokens, [B, tokens, hidden]
   * each, in the sessions' host dtype (float64 from the interpreter; on a GPU, f16 under --dtype
   * f16, which the phases cross in, else float32).
   */
  private ensureRegions(split: SequenceSplit, inputs: DitInputs): void {
    const batch = inputs.x.shape[0];
    const element = this.backend === 'interp' ? 8 : this.dtype === 'f16' ? 2 : 4;
    const bytes = 3 * (Math.ceil((batch * split.tokens * this.config.hidden_size * element) / 8) * 8);
    if (this.regions.length === this.devices && this.regions[0].byteLength >= bytes) return;
    this.regions = Array.from({ length: this.devices }, () => new SharedArrayBuffer(bytes));
  }
}


