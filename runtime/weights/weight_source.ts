/**
 * WeightSource: one keyed view of a checkpoint's tensors, whatever the file format — the
 * binder asks `keys()` and `info(key)` (dtype and shape, no data read) to check a module's
 * parameters, then `read(key)` for the data. Adapters for safetensors files and PyTorch
 * checkpoints, and views that select or strip a key prefix.
 */
import type { HostTensor, StorageDType } from '../tensor.ts';
import { CheckpointError } from './errors.ts';
import { nameHint } from './names.ts';
import type { PytorchCheckpoint } from './pytorch.ts';
import type { SafetensorsFile } from './safetensors_read.ts';
import { topLevelNames } from './state_dict.ts';

export interface TensorInfo {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
}

export type WeightFormat = 'safetensors' | 'pytorch' | 'sharded';

export interface WeightSource {
  /** What was opened: a file, a shard index, or a folder's chosen file. */
  readonly path: string;
  readonly format: WeightFormat;
  /** Every file this source reads (one, or each shard). */
  readonly files: readonly string[];
  /** Safetensors `__metadata__`, or an index's `metadata` (as strings); empty for PyTorch files. */
  readonly metadata: Readonly<Record<string, string>>;
  keys(): readonly string[];
  has(key: string): boolean;
  /** Dtype and shape without reading data; CheckpointError naming the file if there is no such key. */
  info(key: string): TensorInfo;
  read(key: string): HostTensor;
  readAll(): Map<string, HostTensor>;
  close(): void;
}

/** Shared key bookkeeping and messages; subclasses say how to describe and read one key. */
export abstract class KeyedSource implements WeightSource {
  abstract readonly path: string;
  abstract readonly format: WeightFormat;
  abstract readonly files: readonly string[];
  abstract readonly metadata: Readonly<Record<string, string>>;
  abstract keys(): readonly string[];
  abstract has(key: string): boolean;
  protected abstract infoOf(key: string): TensorInfo;
  protected abstract readOf(key: string): HostTensor;
  abstract close(): void;

  info(key: string): TensorInfo {
    this.require(key);
    return this.infoOf(key);
  }

  read(key: string): HostTensor {
    this.require(key);
    return this.readOf(key);
  }

  readAll(): Map<string, HostTensor> {
    return new Map(this.keys().map((k) => [k, this.readOf(k)]));
  }

  private require(key: string): void {
    if (!this.has(key)) throw new CheckpointError(`${this.path} has no tensor named ${JSON.stringify(key)}${nameHint(key, this.keys())}`);
  }
}

export function safetensorsSource(file: SafetensorsFile): WeightSource {
  return new SafetensorsSource(file);
}

export function pytorchSource(ckpt: PytorchCheckpoint): WeightSource {
  return new PytorchSource(ckpt);
}

/**
 * The tensors of `source` whose key starts with `prefix`; with `strip` (the default) the
 * prefix is removed from their keys. Closing the view closes `source`.
 */
export function prefixView(source: WeightSource, prefix: string, opts: { strip?: boolean } = {}): WeightSource {
  return new PrefixView(source, prefix, opts.strip ?? true);
}

class SafetensorsSource extends KeyedSource {
  readonly format = 'safetensors' as const;
  readonly path: string;
  readonly files: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;

  constructor(private readonly file: SafetensorsFile) {
    super();
    this.path = file.path;
    this.files = [file.path];
    this.metadata = file.metadata;
  }

  keys(): readonly string[] {
    return this.file.names;
  }

  has(key: string): boolean {
    return this.file.has(key);
  }

  protected infoOf(key: string): TensorInfo {
    const e = this.file.entry(key);
    return { dtype: e.dtype, shape: e.shape };
  }

  protected readOf(key: string): HostTensor {
    return this.file.read(key);
  }

  close(): void {
    this.file.close();
  }
}

class PytorchSource extends KeyedSource {
  readonly format = 'pytorch' as const;
  readonly path: string;
  readonly files: readonly string[];
  readonly metadata: Readonly<Record<string, string>> = {};
  private readonly keyList: readonly string[];

  constructor(private readonly ckpt: PytorchCheckpoint) {
    super();
    this.path = ckpt.path;
    this.files = [ckpt.path];
    this.keyList = [...ckpt.tensors.keys()];
  }

  keys(): readonly string[] {
    return this.keyList;
  }

  has(key: string): boolean {
    return this.ckpt.tensors.has(key);
  }

  protected infoOf(key: string): TensorInfo {
    const r = this.ckpt.tensors.get(key)!;
    return { dtype: r.dtype, shape: r.shape };
  }

  protected readOf(key: string): HostTensor {
    return this.ckpt.read(key);
  }

  close(): void {
    this.ckpt.close();
  }
}

class PrefixView extends KeyedSource {
  readonly path: string;
  readonly format: WeightFormat;
  readonly files: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Key in this view → key in the source. */
  private readonly outer = new Map<string, string>();
  private readonly keyList: readonly string[];

  constructor(private readonly source: WeightSource, prefix: string, strip: boolean) {
    super();
    this.path = source.path;
    this.format = source.format;
    this.files = source.files;
    this.metadata = source.metadata;
    for (const k of source.keys()) if (k.startsWith(prefix)) this.outer.set(strip ? k.slice(prefix.length) : k, k);
    this.keyList = [...this.outer.keys()];
  }

  keys(): readonly string[] {
    return this.keyList;
  }

  has(key: string): boolean {
    return this.outer.has(key);
  }

  protected infoOf(key: string): TensorInfo {
    return this.source.info(this.outer.get(key)!);
  }

  protected readOf(key: string): HostTensor {
    return this.source.read(this.outer.get(key)!);
  }

  close(): void {
    this.source.close();
  }
}

/**
 * If the checkpoint wraps its weights in a top-level `entry` (training checkpoints save
 * `{'state_dict': ..., 'epoch': ...}`), a view of just those with the `entry.` prefix removed;
 * otherwise `source` itself.
 */
export function unwrapStateDict(source: WeightSource, entry = 'state_dict'): WeightSource {
  const prefix = `${entry}.`;
  return source.keys().some((k) => k.startsWith(prefix)) ? prefixView(source, prefix) : source;
}

/** prefixView that refuses to return an empty view, naming the prefixes that do exist. */
export function requirePrefix(source: WeightSource, prefix: string, opts: { strip?: boolean } = {}): WeightSource {
  const view = prefixView(source, prefix, opts);
  if (view.keys().length === 0) {
    throw new CheckpointError(`${source.path}: no tensor key starts with ${JSON.stringify(prefix)}; its keys start with ${topLevelNames(source.keys()) || 'nothing (it holds no tensors)'}.`);
  }
  return view;
}
