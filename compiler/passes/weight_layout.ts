/**
 * Convolution weight layout: a convolution reads its weight [Cout, Cin, ...K] for a few
 * consecutive output channels at a time, which in that layout are Cin·∏K elements apart. This
 * pass gives the convolution a copy laid out [Cin, ...K, Cout] (channels last), read through
 * the inverse permutation, so those channels are adjacent: vec4 loads on a CPU, coalesced
 * loads across threads on a GPU. Two ways to make the copy:
 * - `weightLayoutPass` (compile's `relayoutWeights: true`): one small copy kernel per weight
 *   and run; fusion materialises it (see `isRelayout`), everything else sees ordinary views.
 * - `weightLayoutAtUploadPass` (`relayoutWeights: 'upload'`): the convolution reads a weight
 *   input of its own whose key is the original key plus the permutation,
 *   `KEY@permute(1,2,3,4,0)` (relaidWeightKey); the runtime's weight store reads KEY and
 *   permutes it on the host once, when it uploads it. No kernel runs per call.
 */
import type { Node } from '../ir.ts';
import { topoSort } from '../ir.ts';
import type { GraphPass } from './pass.ts';
import { rewriteGraph } from './rebuild.ts';

const channelsLast = (rank: number): number[] => [...Array(rank - 1).keys()].map((i) => i + 1).concat([0]);
const inverse = (perm: readonly number[]): number[] => {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => { inv[p] = i; });
  return inv;
};

export const weightLayoutPass: GraphPass = {
  name: 'conv weight layout',
  run: (g) => rewriteGraph(g, [(b, n, src) => {
    if (n.op !== 'conv' || src[1].op !== 'input') return undefined;
    const w = src[1];
    const perm = channelsLast(w.shape.length);
    const relaid = b.permute(b.permute(w, perm), inverse(perm));
    return b.conv(src[0], relaid, n.stride);
  }]),
};

/**
 * The key of weight `key` stored permuted by `perm` (out.shape[i] = shape[perm[i]]). The
 * runtime's weight store parses this form (runtime/gpu/weight-store.ts); keep the two in step.
 */
export const relaidWeightKey = (key: string, perm: readonly number[]): string => `${key}@permute(${perm.join(',')})`;

export const weightLayoutAtUploadPass: GraphPass = {
  name: 'conv weight layout at upload',
  run: (g) => {
    const replaced = new Set<string>();
    const out = rewriteGraph(g, [(b, n, src) => {
      const w = src[1];
      if (n.op !== 'conv' || w.op !== 'input' || w.kind !== 'weight') return undefined;
      const perm = channelsLast(w.shape.length);
      replaced.add(w.name);
      const laid = b.withOrigin(w.origin, () => b.input(relaidWeightKey(w.name, perm), perm.map((p) => w.shape[p]), w.dtype, 'weight'));
      return b.conv(src[0], b.permute(laid, inverse(perm)), n.stride);
    }]);
    // A weight read only through its relaid copy is no longer a program weight: it would be
    // uploaded (and counted in the plan) for nothing.
    const used = new Set(topoSort(out.outputs.map((o) => o.node)).map((n) => n.id));
    return { ...out, inputs: out.inputs.filter((i) => i.kind !== 'weight' || !replaced.has(i.name) || used.has(i.id)) };
  },
};

/** The inner permute of a relaid weight (permute∘permute = identity over an input): to be materialised. */
export function isRelayout(n: Node, users: ReadonlyMap<number, readonly Node[]>): boolean {
  if (n.op !== 'permute' || n.src[0].op !== 'input') return false;
  const us = users.get(n.id) ?? [];
  return us.length > 0 && us.every((u) => u.op === 'permute' && u.perm.every((p, i) => n.perm[p] === i));
}
