/**
 * The weights on one device. A weight set (a map of state-dict key -> HostTensor, or any
 * source with `read(key)`, such as a checkpoint reader) is registered once; each weight is
 * uploaded the first time a program names its key, converted to that program's storage dtype,
 * and then shared by every program that names the same key (tiled decoding runs many programs
 * over one weight set). Shapes are checked against each program's TensorInfo.
 *
 * Ownership: the store owns the weight buffers; `setWeights` with a new set, `clear()` and
 * device release destroy them. Replace weights only between runs.
 *
 * Relaid weights: a program may name a weight `KEY@permute(p0,p1,...)` (the compiler's
 * channels-last convolution weights, compiler/passes/weight_layout.ts). The store reads KEY
 * from the set and uploads it permuted (out.shape[i] = shape[p_i]), once, like any weight.
 */
import type { TensorInfo } from '../../compiler/kernel.ts';
import { toFloat64, type HostTensor } from '../tensor.ts';
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

/** How far one run's weight uploads have got (WeightStore.onUpload), told after each weight. */
export interface UploadProgress {
  /** The weight just uploaded, and its bytes on the GPU. */
  readonly key: string;
  readonly bytes: number;
  /** Weights (and bytes) uploaded so far of those the run found missing, and all of them. */
  readonly done: number;
  readonly total: number;
  readonly doneBytes: number;
  readonly totalBytes: number;
}

export class WeightStore {
  /** Told after each upload, so a long load (a released checkpoint: tens of GiB) can show progress. */
  onUpload: ((progress: UploadProgress) => void) | undefined;
  private source: WeightSource | undefined;
  private readonly resident = new Map<string, Promise<GPUBuffer>>();
  private readonly sizes = new Map<string, number>();
  private readonly shapes = new Map<string, readonly number[]>();
  private uploads = 0;
  private hits = 0;

  constructor(private readonly device: GPUDevice) {}

  /** Whether `set` is the registered weight set (so registering it again would only re-upload). */
  holds(set: WeightSet): boolean {
    return this.source !== undefined && this.source === set;
  }

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

  /**
   * The buffers of `weights` (TensorInfos with role 'weight'), uploading those not yet on the GPU.
   * One at a time: each upload's error scopes must close before the next opens (scopes are a
   * per-device stack), and a source may run a program of its own to make a weight.
   */
  async buffers(weights: readonly TensorInfo[]): Promise<Map<number, GPUBuffer>> {
    const missing = new Set(weights.filter((w) => !this.resident.has(cacheKeyOf(w))));
    const totalBytes = [...missing].reduce((s, w) => s + w.bytes, 0);
    let [done, doneBytes] = [0, 0];
    const out = new Map<number, GPUBuffer>();
    for (const info of weights) {
      out.set(info.id, await this.buffer(info));
      if (!missing.has(info)) continue;
      doneBytes += info.bytes;
      this.onUpload?.({ key: info.name, bytes: info.bytes, done: ++done, total: missing.size, doneBytes, totalBytes });
    }
    return out;
  }

  private buffer(info: TensorInfo): Promise<GPUBuffer> {
    const cacheKey = cacheKeyOf(info);
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
    const relaid = parseRelaidKey(info.name);
    const key = relaid?.key ?? info.name;
    // The shape the set must hold under `key` (before any permutation).
    const expected = relaid ? unpermuteShape(info.shape, relaid.perm) : info.shape;
    if (source.has && !source.has(key)) throw new WeightMismatchError(missingMessage(key, source));
    const shapeError = (shape: readonly number[], dtype: string): WeightMismatchError =>
      new WeightMismatchError(`Weight '${key}' has shape [${shape.join(', ')}] (${dtype}) in the weight set, but the program expects [${expected.join(', ')}] (${info.dtype}). The checkpoint does not match the model configuration the program was compiled for (channels, layers, kernel sizes); check the config or the checkpoint file.`);
    const described = source.info?.(key);
    if (described && !sameShape(described.shape, expected)) throw shapeError(described.shape, described.dtype);
    let host = await source.read(key);
    if (!host) throw new WeightMismatchError(missingMessage(key, source));
    if (!sameShape(host.shape, expected)) throw shapeError(host.shape, host.dtype);
    if (relaid) host = permuteHost(host, relaid.perm);
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

const cacheKeyOf = (info: TensorInfo): string => `${info.name}\u0000${info.dtype}`;

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** `KEY@permute(1,2,3,4,0)` -> KEY and the permutation; undefined for a plain key. */
export function parseRelaidKey(name: string): { key: string; perm: number[] } | undefined {
  const m = /^(.*)@permute\(([\d,]+)\)$/.exec(name);
  if (!m) return undefined;
  const perm = m[2].split(',').map(Number);
  const sorted = [...perm].sort((a, b) => a - b);
  if (!sorted.every((p, i) => p === i)) return undefined;
  return { key: m[1], perm };
}

function unpermuteShape(shape: readonly number[], perm: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  perm.forEach((p, i) => { out[p] = shape[i]; });
  return out;
}

/** `t` permuted (out.shape[i] = t.shape[perm[i]]), as F32 (I32 for integer tensors). */
export function permuteHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const src = toFloat64(t);
  const inShape = t.shape;
  const outShape = perm.map((p) => inShape[p]);
  const inStrides = new Array<number>(inShape.length);
  let acc = 1;
  for (let i = inShape.length - 1; i >= 0; i--) { inStrides[i] = acc; acc *= inShape[i]; }
  const strides = perm.map((p) => inStrides[p]);
  const float = t.dtype === 'F32' || t.dtype === 'F64' || t.dtype === 'F16' || t.dtype === 'BF16';
  const out = float ? new Float32Array(src.length) : new Int32Array(src.length);
  const idx = new Array<number>(outShape.length).fill(0);
  let offset = 0;
  for (let o = 0; o < src.length; o++) {
    out[o] = src[offset];
    // Odometer over the output index, keeping the input offset in step.
    for (let a = outShape.length - 1; a >= 0; a--) {
      idx[a]++;
      offset += strides[a];
      if (idx[a] < outShape[a]) break;
      offset -= strides[a] * outShape[a];
      idx[a] = 0;
    }
  }
  return { dtype: float ? 'F32' : 'I32', shape: outShape, data: out };
}

function missingMessage(key: string, source: WeightSource): string {
  const base = `Weight '${key}' is not in the weight set.`;
  if (!source.keys) return `${base} Check that the checkpoint belongs to this model.`;
  const keys = [...source.keys()];
  const last = key.split('.').slice(-2).join('.');
  const similar = keys.filter((k) => k.endsWith(last)).slice(0, 5);
  const hint = similar.length ? ` Keys ending like it: ${similar.join(', ')}.` : '';
  return `${base} The set has ${keys.length} keys.${hint} Check that the checkpoint belongs to this model (and its key prefix, e.g. 'decoder.' or 'vae.').`;
}
