/**
 * The weights on one device. A weight set (a map of state-dict key -> HostTensor, or any
 * source with `read(key)`, such as a checkpoint reader) is registered once; each weight is
 * uploaded the first time a program names its key, converted to that program's storage dtype,
 * and then shared by every program that names the same key (tiled decoding runs many programs
 * over one weight set). Shapes are checked against each program's TensorInfo.
 *
 * Ownership: the store owns the weight buffers; `setWeights` with a new set, `clear()` and
 * device release destroy them. Replace weights only between runs.
 */
import type { TensorInfo } from '../../compiler/kernel.ts';
import type { HostTensor } from '../tensor.ts';
import { ResourceLimitError, WeightMismatchError, formatBytes } from './errors.ts';
import { withScopes } from './error-scopes.ts';
import { toStorage } from './storage.ts';

/**
 * Anything that can produce a weight by key (a checkpoint reader fits). `has` and `info` let
 * mismatches be reported before reading the data; `keys()` makes error messages more helpful.
 */
export interface WeightSource {
  read(key: string): HostTensor | undefined | Promise<HostTensor | undefined>;
  has?(key: string): boolean;
  info?(key: string): { readonly shape: readonly number[]; readonly dtype: string };
  keys?(): Iterable<string>;
}

export type WeightSet = ReadonlyMap<string, HostTensor> | WeightSource;

export interface WeightStats {
  /** Weights uploaded to the GPU since the store was made. */
  readonly uploads: number;
  /** Requests served by an already uploaded weight. */
  readonly hits: number;
  /** Weights on the GPU now, and their bytes. */
  readonly resident: number;
  readonly residentBytes: number;
}

const asSource = (set: WeightSet): WeightSource =>
  set instanceof Map
    ? { read: (k) => set.get(k), has: (k) => set.has(k), keys: () => set.keys() }
    : (set as WeightSource);

export class WeightStore {
  private source: WeightSource | undefined;
  private readonly resident = new Map<string, Promise<GPUBuffer>>();
  private readonly sizes = new Map<string, number>();
  private readonly shapes = new Map<string, readonly number[]>();
  private uploads = 0;
  private hits = 0;

  constructor(private readonly device: GPUDevice) {}

  /** Registers the weight set; weights of any previous set are destroyed. */
  setWeights(set: WeightSet): void {
    this.clear();
    this.source = asSource(set);
  }

  /** Destroys every uploaded weight and forgets the set. */
  clear(): void {
    for (const p of this.resident.values()) p.then((b) => b.destroy(), () => undefined);
    this.resident.clear();
    this.sizes.clear();
    this.shapes.clear();
    this.source = undefined;
  }

  get stats(): WeightStats {
    let bytes = 0;
    for (const b of this.sizes.values()) bytes += b;
    return { uploads: this.uploads, hits: this.hits, resident: this.sizes.size, residentBytes: bytes };
  }

  /** The buffers of `weights` (TensorInfos with role 'weight'), uploading those not yet on the GPU. */
  async buffers(weights: readonly TensorInfo[]): Promise<Map<number, GPUBuffer>> {
    const out = new Map<number, GPUBuffer>();
    await Promise.all(weights.map(async (info) => { out.set(info.id, await this.buffer(info)); }));
    return out;
  }

  private buffer(info: TensorInfo): Promise<GPUBuffer> {
    const cacheKey = `${info.name}\u0000${info.dtype}`;
    const cached = this.resident.get(cacheKey);
    if (cached) {
      this.hits++;
      // Every program naming a key must agree on its shape, not only the first one.
      return cached.then((b) => { this.checkCachedShape(info, cacheKey); return b; });
    }
    const made = this.upload(info, cacheKey);
    this.resident.set(cacheKey, made);
    made.catch(() => { this.resident.delete(cacheKey); this.shapes.delete(cacheKey); });
    return made;
  }

  private checkCachedShape(info: TensorInfo, cacheKey: string): void {
    const shape = this.shapes.get(cacheKey);
    if (shape && !sameShape(shape, info.shape)) {
      throw new WeightMismatchError(`Weight '${info.name}' has shape [${shape.join(', ')}], but this program expects [${info.shape.join(', ')}]. The program was compiled for a different model configuration than the weights; check the config.`);
    }
  }

  private async upload(info: TensorInfo, cacheKey: string): Promise<GPUBuffer> {
    const source = this.source;
    if (!source) throw new WeightMismatchError(`The program needs weight '${info.name}', but no weights were set on this device. Load a checkpoint and pass it to setWeights() before running.`);
    if (source.has && !source.has(info.name)) throw new WeightMismatchError(missingMessage(info.name, source));
    const shapeError = (shape: readonly number[], dtype: string): WeightMismatchError =>
      new WeightMismatchError(`Weight '${info.name}' has shape [${shape.join(', ')}] (${dtype}) in the weight set, but the program expects [${info.shape.join(', ')}] (${info.dtype}). The checkpoint does not match the model configuration the program was compiled for (channels, layers, kernel sizes); check the config or the checkpoint file.`);
    const described = source.info?.(info.name);
    if (described && !sameShape(described.shape, info.shape)) throw shapeError(described.shape, described.dtype);
    const host = await source.read(info.name);
    if (!host) throw new WeightMismatchError(missingMessage(info.name, source));
    if (!sameShape(host.shape, info.shape)) throw shapeError(host.shape, host.dtype);
    const data = toStorage(host, info.dtype, info.bytes);
    if (typeof data === 'string') {
      throw new WeightMismatchError(`Weight '${info.name}' (${host.dtype}) cannot be stored as ${info.dtype}: ${data}.`);
    }
    const { value: buffer, errors, thrown } = await withScopes(this.device, () => {
      const b = this.device.createBuffer({ label: info.name, size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
      this.device.queue.writeBuffer(b, 0, data);
      return b;
    });
    if (thrown) throw thrown;
    if (errors.length > 0) {
      buffer?.destroy();
      const oom = errors.some((e) => e.filter === 'out-of-memory');
      if (oom) throw new ResourceLimitError(`Out of GPU memory uploading weight '${info.name}' (${formatBytes(data.byteLength)}); ${formatBytes(this.stats.residentBytes)} of weights are already on the GPU. Use a device with more memory, or f16 weights.`, 'device memory');
      throw new Error(`Uploading weight '${info.name}' failed: ${errors.map((e) => e.message).join('\n')}`);
    }
    this.uploads++;
    this.sizes.set(cacheKey, data.byteLength);
    this.shapes.set(cacheKey, [...info.shape]);
    return buffer!;
  }
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function missingMessage(key: string, source: WeightSource): string {
  const base = `Weight '${key}' is not in the weight set.`;
  if (!source.keys) return `${base} Check that the checkpoint belongs to this model.`;
  const keys = [...source.keys()];
  const last = key.split('.').slice(-2).join('.');
  const similar = keys.filter((k) => k.endsWith(last)).slice(0, 5);
  const hint = similar.length ? ` Keys ending like it: ${similar.join(', ')}.` : '';
  return `${base} The set has ${keys.length} keys.${hint} Check that the checkpoint belongs to this model (and its key prefix, e.g. 'decoder.' or 'vae.').`;
}
