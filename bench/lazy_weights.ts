/**
 * Random weights for benchmarks of released-size models: each tensor is drawn when the weight
 * store first asks for it (uniform draws with the init rule's variance, from harness.ts's fast
 * generator seeded per key) and never written to disk, so a benchmark holds at most one host
 * copy at a time and draws nothing a program does not read.
 */
import { initRule, keyHash } from '../models/common/random_tensors.ts';
import type { SessionWeights } from '../runtime/model.ts';
import type { HostTensor } from '../runtime/tensor.ts';
import { uniform } from './harness.ts';

/** Weights of `shapes` (state-dict key -> shape), drawn on read; `drawn()` counts the elements drawn so far. */
export function lazyRandomWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number, path: string): SessionWeights & { drawn: () => number } {
  let drawn = 0;
  const shapeOf = (k: string): readonly number[] => {
    const shape = shapes.get(k);
    if (!shape) throw new Error(`no weight ${k}`);
    return shape;
  };
  return {
    path,
    keys: () => shapes.keys(),
    info: (k) => ({ shape: shapeOf(k), dtype: 'F32' }),
    read: (k): HostTensor => {
      const shape = shapeOf(k);
      const n = shape.reduce((a, b) => a * b, 1);
      const rule = initRule(k, shape);
      const u = uniform(n, (seed * 0x9e3779b1 + keyHash(k)) >>> 0, -Math.sqrt(3), Math.sqrt(3));
      for (let i = 0; i < n; i++) u[i] = rule(u[i]);
      drawn += n;
      return { dtype: 'F32', shape: [...shape], data: u };
    },
    drawn: () => drawn,
  };
}
