/**
 * Checkpoints spread over several files, and folders holding a checkpoint. A shard index
 * (`*.safetensors.index.json` or `*.bin.index.json`, as diffusers and transformers write) maps
 * every tensor key to the shard file holding it: `{"metadata": {...}, "weight_map": {key: file}}`.
 * `openShardIndex` opens every shard, checks that each key is where the index says, and
 * presents one keyed view. `resolveFolder` picks the checkpoint file inside a model folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { HostTensor } from '../tensor.ts';
import { CheckpointError } from './errors.ts';
import { KeyedSource, type TensorInfo, type WeightFormat, type WeightSource } from './weight_source.ts';

export interface ShardIndex {
  readonly path: string;
  /** Tensor key → shard file name, relative to the index's folder, in index order. */
  readonly weightMap: ReadonlyMap<string, string>;
  readonly metadata: Readonly<Record<string, string>>;
}

export function readShardIndex(path: string): ShardIndex {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(`cannot open shard index ${path}: no such file.`);
    throw err;
  }
  const fail = (msg: string): never => {
    throw new CheckpointError(`${path}: ${msg}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message}); expected a shard index {"metadata": {...}, "weight_map": {"key": "shard file"}}.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('expected a JSON object with a "weight_map" entry.');
  const { weight_map: map, metadata: meta } = json as Record<string, unknown>;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    return fail('has no "weight_map" object; a shard index maps each tensor key to the file holding it: {"weight_map": {"key": "shard file"}}.');
  }
  const weightMap = new Map<string, string>();
  for (const [key, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file === '') fail(`weight_map entry ${JSON.stringify(key)} is ${JSON.stringify(file)}; expected a shard file name.`);
    const f = file as string;
    // Shards live beside the index; a name reaching elsewhere is a damaged or hostile index.
    if (isAbsolute(f) || normalize(f).split(/[\\/]/).includes('..')) {
      fail(`weight_map entry ${JSON.stringify(key)} names shard ${JSON.stringify(f)}, which is not inside the index's folder.`);
    }
    weightMap.set(key, f);
  }
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) {
    for (const [k, v] of Object.entries(meta)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return { path, weightMap, metadata };
}

/**
 * One view over every shard of `index`; `openShard` opens one shard file. Fails, closing what
 * it opened, when a shard is missing or lacks a key the index puts in it.
 */
export function openShardIndex(index: ShardIndex, openShard: (path: string) => WeightSource): WeightSource {
  const folder = dirname(index.path);
  const byFile = new Map<string, string[]>();
  for (const [key, file] of index.weightMap) {
    const keys = byFile.get(file) ?? [];
    keys.push(key);
    byFile.set(file, keys);
  }
  const shards = new Map<string, WeightSource>();
  try {
    for (const [file, keys] of byFile) {
      const full = join(folder, file);
      if (!isFile(full)) {
        throw new CheckpointError(`${index.path} lists shard ${JSON.stringify(file)} (holding ${keys.length} tensor${keys.length === 1 ? '' : 's'}, e.g. ${JSON.stringify(keys[0])}) but ${full} does not exist. Download every shard the index lists into ${folder}.`);
      }
      const shard = openShard(full);
      shards.set(file, shard);
      const missing = keys.filter((k) => !shard.has(k));
      if (missing.length) {
        throw new CheckpointError(`${index.path} says tensor ${JSON.stringify(missing[0])}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''} is in shard ${JSON.stringify(file)}, but that file has no such tensor. The index and the shards do not match; download them together.`);
      }
    }
  } catch (err) {
    for (const s of shards.values()) s.close();
    throw err;
  }
  return new ShardedSource(index, shards);
}

class ShardedSource extends KeyedSource {
  readonly path: string;
  readonly format: WeightFormat = 'sharded';
  readonly files: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  private readonly keyList: readonly string[];

  constructor(private readonly index: ShardIndex, private readonly shards: ReadonlyMap<string, WeightSource>) {
    super();
    this.path = index.path;
    this.files = [...shards.values()].map((s) => s.path);
    this.metadata = index.metadata;
    this.keyList = [...index.weightMap.keys()];
  }

  keys(): readonly string[] {
    return this.keyList;
  }

  has(key: string): boolean {
    return this.index.weightMap.has(key);
  }

  protected infoOf(key: string): TensorInfo {
    return this.shardOf(key).info(key);
  }

  protected readOf(key: string): HostTensor {
    return this.shardOf(key).read(key);
  }

  close(): void {
    for (const s of this.shards.values()) s.close();
  }

  private shardOf(key: string): WeightSource {
    return this.shards.get(this.index.weightMap.get(key)!)!;
  }
}

const SAFETENSORS_PREFERRED = [
  'diffusion_pytorch_model.safetensors', 'model.safetensors',
  'diffusion_pytorch_model.safetensors.index.json', 'model.safetensors.index.json',
];
const PYTORCH_PREFERRED = [
  'diffusion_pytorch_model.bin', 'pytorch_model.bin', 'pytorch_model.pt',
  'diffusion_pytorch_model.bin.index.json', 'pytorch_model.bin.index.json',
];
const PYTORCH_EXTENSIONS = ['.pt', '.pth', '.bin', '.ckpt'];

/**
 * The checkpoint file (or shard index) to load from a model folder: the conventional names
 * first (diffusers', then transformers'), then a lone index or a lone weights file. Safetensors
 * win over PyTorch files; PyTorch files are considered only when `allowPytorch`.
 */
export function resolveFolder(folder: string, allowPytorch: boolean): string {
  const names = readdirSync(folder).filter((n) => isFile(join(folder, n))).sort();
  const pick = (preferred: readonly string[], loneIndex: (n: string) => boolean, loneFile: (n: string) => boolean): string | undefined => {
    const named = preferred.find((p) => names.includes(p));
    if (named) return named;
    for (const test of [loneIndex, loneFile]) {
      const found = names.filter(test);
      if (found.length === 1) return found[0];
      if (found.length > 1) {
        const shown = found.slice(0, 5).join(', ') + (found.length > 5 ? `, … (${found.length} in all)` : '');
        throw new CheckpointError(`${folder} holds several candidate checkpoints (${shown}) and none has a conventional name; pass the file (or its .index.json) you mean.`);
      }
    }
    return undefined;
  };
  const chosen = pick(SAFETENSORS_PREFERRED, (n) => n.endsWith('.safetensors.index.json'), (n) => n.endsWith('.safetensors'))
    ?? (allowPytorch ? pick(PYTORCH_PREFERRED, (n) => n.endsWith('.bin.index.json'), (n) => PYTORCH_EXTENSIONS.some((e) => n.endsWith(e))) : undefined);
  if (!chosen) {
    const expected = allowPytorch
      ? 'a .safetensors file, a *.safetensors.index.json with its shards, or a PyTorch .pt/.pth/.bin/.ckpt file'
      : 'a .safetensors file or a *.safetensors.index.json with its shards';
    const found = names.length ? names.slice(0, 10).join(', ') + (names.length > 10 ? ', …' : '') : 'no files';
    throw new CheckpointError(`${folder} holds no checkpoint Kiln can find: expected ${expected}; found ${found}.`);
  }
  return join(folder, chosen);
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
