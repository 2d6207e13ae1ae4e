/**
 * LoRA for the transformer as HunyuanVideo-I2V applies it (spec/pipeline.md §8.13, upstream's
 * load_lora_for_pipeline): a kohya-style safetensors file of `lora_up`/`lora_down` pairs whose
 * names are module paths joined by "_" after a prefix (`Hunyuan_video_I2V_lora_double_blocks_0_
 * img_attn_qkv.lora_down.weight`); each pair adds `scale · (up @ down)` to that module's weight.
 * `.alpha` entries are ignored, as upstream ignores them (no alpha / rank scaling).
 *
 * Module names are resolved as upstream walks attributes: at each level the shortest run of
 * "_"-separated words that names a child. The merge happens as weights are read, so the
 * checkpoint is never rewritten.
 */
import type { SessionWeights } from '../../runtime/model.ts';
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

/**
 * `base` with each targeted weight read as W + scale · (up @ down), computed in float64 on the
 * host when the weight is read (a 3072 × 3072 weight at rank 32: 0.6-0.8 s on this 2-core CPU,
 * `npx tsx bench/experiments/lora_merge_speed.ts`), stored float32. `onMerge` is told after each merge, so long loads can show progress.
 */
export function withLora(base: SessionWeights, lora: SessionWeights, scale: number, opts: { prefix?: string; onMerge?: (done: number, total: number) => void } = {}): { weights: SessionWeights; merged: readonly string[] } {
  const targets = loraTargets(base, lora, opts.prefix ?? HUNYUAN_I2V_LORA_PREFIX);
  let done = 0;
  const read = (key: string): HostTensor => {
    const pair = targets.get(key);
    const w = base.read(key);
    if (!pair) return w;
    const up = toFloat64(lora.read(pair.up));
    const down = toFloat64(lora.read(pair.down));
    const out = w.shape[0];
    const inner = w.shape.slice(1).reduce((a, b) => a * b, 1);
    const rank = up.length / out;
    const original = toFloat64(w);
    const merged = new Float32Array(original.length);
    // Row by row, down's rows streamed contiguously (a full-size LoRA is ~10^11 multiply-adds).
    const row = new Float64Array(inner);
    for (let o = 0; o < out; o++) {
      row.fill(0);
      for (let r = 0; r < rank; r++) {
        const u = up[o * rank + r];
        const d = r * inner;
        for (let i = 0; i < inner; i++) row[i] += u * down[d + i];
      }
      for (let i = 0; i < inner; i++) merged[o * inner + i] = original[o * inner + i] + scale * row[i];
    }
    opts.onMerge?.(++done, targets.size);
    return { dtype: 'F32', shape: w.shape, data: merged };
  };
  return {
    weights: {
      path: `${base.path ?? 'weights'} + LoRA ${lora.path ?? ''} × ${scale}`.trim(),
      keys: () => base.keys(),
      info: (k) => (targets.has(k) ? { shape: base.info(k).shape, dtype: 'F32' } : base.info(k)),
      read,
    },
    merged: [...targets.keys()],
  };
}
