/**
 * LoRA for the transformer as HunyuanVideo-I2V applies it (spec/pipeline.md §8.13, upstream's
 * load_lora_for_pipeline): a kohya-style safetensors file of `lora_up`/`lora_down` pairs whose
 * names are module paths joined by "_" after a prefix (`Hunyuan_video_I2V_lora_double_blocks_0_
 * img_attn_qkv.lora_down.weight`); each pair adds `scale · (up @ down)` to that module's weight.
 * `.alpha` entries are ignored, as upstream ignores them (no alpha / rank scaling).
 *
 * Module names are resolved as upstream walks attributes: at each level the shortest run of
 * "_"-separated words that names a child. The merge happens as weights are read, so the
 * checkpoint is never rewritten: on the GPU when the transformer runs there, else on the host.
 */
import { lazyProgram } from '../../dsl/program.ts';
import { ModelSession, weightsFromMap, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';

export const HUNYUAN_I2V_LORA_PREFIX = 'Hunyuan_video_I2V_lora';

export class LoraError extends Error {
  readonly userFacing = true;
  override name = 'LoraError';
}

/** Children of every module path ('' is the root), from the weights' dotted keys. */
function moduleTree(keys: Iterable<string>): Map<string, Set<string>> {
  const children = new Map<string, Set<string>>();
  for (const key of keys) {
    const parts = key.split('.');
    for (let i = 0; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('.');
      let set = children.get(parent);
      if (!set) children.set(parent, (set = new Set()));
      set.add(parts[i]);
    }
  }
  return children;
}

/** The dotted module path a "_"-joined LoRA name stands for, walking the tree as upstream does. */
export function resolveLoraModule(name: string, tree: ReadonlyMap<string, ReadonlySet<string>>): string | undefined {
  const words = name.split('_');
  let path = '';
  let run = words.shift();
  while (run !== undefined) {
    const here = tree.get(path);
    if (here?.has(run)) {
      path = path ? `${path}.${run}` : run;
      run = words.shift();
    } else {
      const next = words.shift();
      if (next === undefined) return undefined;
      run = run.length > 0 ? `${run}_${next}` : next;
    }
  }
  return path;
}

interface LoraPair {
  readonly up: string;
  readonly down: string;
}

/** Which weight each up/down pair of `lora` changes (checked against `base`'s shapes). */
export function loraTargets(base: SessionWeights, lora: SessionWeights, prefix = HUNYUAN_I2V_LORA_PREFIX): Map<string, LoraPair> {
  const tree = moduleTree(base.keys());
  const targets = new Map<string, LoraPair>();
  const where = lora.path ?? 'the LoRA file';
  const loraKeys = new Set(lora.keys());
  for (const key of loraKeys) {
    if (key.includes('.alpha')) continue;
    if (!key.includes('lora_down') && !key.includes('lora_up')) throw new LoraError(`${where}: ${key} is neither a lora_up nor a lora_down weight`);
    if (key.includes('text')) throw new LoraError(`${where}: ${key} is a text encoder's LoRA; Kiln applies LoRA to the transformer only, as HunyuanVideo-I2V's sampler does`);
    const module = key.split('.')[0].split(`${prefix}_`).at(-1)!;
    const path = resolveLoraModule(module, tree);
    if (path === undefined || !tree.get(path)?.has('weight')) throw new LoraError(`${where}: ${key} names ${module}, which is no module with a weight in the transformer (prefix ${prefix})`);
    const down = key.replace('lora_up', 'lora_down');
    const up = key.replace('lora_down', 'lora_up');
    if (!loraKeys.has(up) || !loraKeys.has(down)) throw new LoraError(`${where}: ${key} has no ${loraKeys.has(up) ? down : up} to pair with`);
    const target = `${path}.weight`;
    const w = base.info(target).shape;
    const [u, d] = [lora.info(up).shape, lora.info(down).shape];
    const squeezed = (s: readonly number[]) => (s.length === 4 ? s.slice(0, 2) : s);
    const [us, ds] = [squeezed(u), squeezed(d)];
    const out = w[0];
    const inner = w.slice(1).reduce((a, b) => a * b, 1);
    if (us.length !== 2 || ds.length !== 2 || us[1] !== ds[0] || us[0] !== out || ds[1] !== inner) {
      throw new LoraError(`${where}: ${up} [${u.join(', ')}] @ ${down} [${d.join(', ')}] does not make ${target}'s [${w.join(', ')}]`);
    }
    targets.set(target, { up, down });
  }
  return targets;
}

/** W + scale · (up @ down) in float64 on the host, stored float32; w is [out, inner], up [out, rank], down [rank, inner]. */
function mergeOnHost(w: HostTensor, up: HostTensor, down: HostTensor, scale: number): HostTensor {
  const [u, d, original] = [toFloat64(up), toFloat64(down), toFloat64(w)];
  const out = w.shape[0];
  const inner = original.length / out;
  const rank = u.length / out;
  const merged = new Float32Array(original.length);
  // Row by row, down's rows streamed contiguously (a full-size LoRA is ~10^11 multiply-adds).
  const row = new Float64Array(inner);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let r = 0; r < rank; r++) {
      const uo = u[o * rank + r];
      const dr = r * inner;
      for (let i = 0; i < inner; i++) row[i] += uo * d[dr + i];
    }
    for (let i = 0; i < inner; i++) merged[o * inner + i] = original[o * inner + i] + scale * row[i];
  }
  return { dtype: 'F32', shape: w.shape, data: merged };
}

export const loraMergeProgram = lazyProgram(import.meta.url, ['lora_merge.kiln']);

/** The same merge as a Kiln program on the session's device (float32, as upstream merges). */
class DeviceLoraMerge {
  private readonly session: ModelSession;

  constructor(session: SessionOptions) {
    this.session = new ModelSession(loraMergeProgram(), 'LoraMerge', {}, weightsFromMap(new Map(), '<no weights>'), { ...session, dtype: 'f32' });
  }

  async merge(w: HostTensor, up: HostTensor, down: HostTensor, scale: number): Promise<HostTensor> {
    const s: HostTensor = { dtype: 'F32', shape: [], data: Float32Array.of(scale) };
    const merged = (await this.session.call('merge', [w, up, down, s])).outputs.out;
    return { ...merged, shape: w.shape };
  }
}

export interface LoraOptions {
  /** The kohya name prefix (default upstream's, HUNYUAN_I2V_LORA_PREFIX). */
  readonly prefix?: string;
  /** Told after each merge, so long loads can show progress. */
  readonly onMerge?: (done: number, total: number) => void;
  /**
   * The transformer's session: with a GPU one, weights a GPU session reads are merged by a
   * program on its device (lora_merge.kiln), hundreds of times faster than on the host.
   */
  readonly session?: SessionOptions;
}

/**
 * `base` with each targeted weight read as W + scale · (up @ down), merged when the weight is read.
 * On the host (`read`, the interpreter's path) in float64, stored float32: a 3072 × 3072 weight at
 * rank 32 takes 0.54 s on this 2-core CPU, so a LoRA on every linear of the released transformer
 * (~8·10^11 flops at rank 32) would take over ten minutes. With a GPU session (`readForDevice`) a
 * program on the device merges in float32: 0.12 s for the same weight even on lavapipe, upload
 * and readback included (`npx tsx bench/experiments/lora_merge_speed.ts` times both).
 */
export function withLora(base: SessionWeights, lora: SessionWeights, scale: number, opts: LoraOptions = {}): { weights: SessionWeights; merged: readonly string[] } {
  const targets = loraTargets(base, lora, opts.prefix ?? HUNYUAN_I2V_LORA_PREFIX);
  const device = opts.session?.backend === 'webgpu' ? new DeviceLoraMerge(opts.session) : undefined;
  let done = 0;
  // The pair as matrices: w [out, inner], up [out, rank], down [rank, inner] (conv weights flattened).
  const operands = (key: string, pair: LoraPair): [HostTensor, HostTensor, HostTensor] => {
    const w = base.read(key);
    const out = w.shape[0];
    const inner = w.shape.slice(1).reduce((a, b) => a * b, 1);
    const up = lora.read(pair.up);
    const down = lora.read(pair.down);
    const rank = up.shape[1];
    return [{ ...w, shape: [out, inner] }, { ...up, shape: [out, rank] }, { ...down, shape: [rank, inner] }];
  };
  const merged = (key: string, result: HostTensor): HostTensor => {
    opts.onMerge?.(++done, targets.size);
    return { ...result, shape: base.info(key).shape };
  };
  return {
    weights: {
      path: `${base.path ?? 'weights'} + LoRA ${lora.path ?? ''} × ${scale}`.trim(),
      keys: () => base.keys(),
      info: (k) => (targets.has(k) ? { shape: base.info(k).shape, dtype: 'F32' } : base.info(k)),
      read: (key) => {
        const pair = targets.get(key);
        return pair ? merged(key, mergeOnHost(...operands(key, pair), scale)) : base.read(key);
      },
      ...(device && {
        readForDevice: async (key: string) => {
          const pair = targets.get(key);
          return pair ? merged(key, await device.merge(...operands(key, pair), scale)) : base.read(key);
        },
      }),
    },
    merged: [...targets.keys()],
  };
}
