/**
 * Inline-cost guard: inlining recomputes a node in every kernel, and at every coordinate,
 * that reads it. Common-subexpression elimination merges evaluations at equal coordinates,
 * but a node read through several different views (x·cos + rotate(x)·sin, repeated) is
 * evaluated once per view path, which can grow exponentially with depth. This pass bounds
 * each kernel's inlined expression *tree* size (shared subtrees counted once per reference,
 * an upper bound on the emitted code) and materialises the largest shared subtree while a
 * kernel exceeds the bound. Ordinary model code stays far below it.
 */
import type { Node } from '../ir.ts';
import { orderGroups } from './order.ts';
import type { SchedulePass } from './pass.ts';
import { type KernelGroup, type Schedule, groupOutputs, groupRoots, inlinedTreeSizes, reachingTargets } from './schedule.ts';

/** Expression-tree nodes a kernel may inline (counting repeats). */
export const MAX_INLINE_TREE = 4096;

const CAP = Number.MAX_SAFE_INTEGER;

/** Materialises one shared subtree of `g` if its inlined tree is too large. */
function shrink(g: KernelGroup, materialised: Set<number>): KernelGroup | undefined {
  const roots = groupRoots(g);
  const sizes = inlinedTreeSizes(roots, materialised);
  const total = roots.reduce((a, r) => Math.min(CAP, a + (sizes.get(r) ?? 0)), 0);
  if (total <= MAX_INLINE_TREE) return undefined;
  // Subtrees referenced more than once are what multiply the tree.
  const refs = new Map<Node, number>();
  for (const r of roots) refs.set(r, (refs.get(r) ?? 0) + 1);
  for (const n of sizes.keys()) for (const x of n.src) refs.set(x, (refs.get(x) ?? 0) + 1);
  const pinned = reachingTargets(roots, new Set(groupOutputs(g).map((n) => n.id)), materialised);
  let best: Node | undefined;
  for (const [n, size] of sizes) {
    if ((refs.get(n) ?? 0) < 2 || pinned.has(n.id)) continue;
    if (!best || size > (sizes.get(best) ?? 0)) best = n;
  }
  if (!best) return undefined;
  materialised.add(best.id);
  return { kind: 'elementwise', node: best, own: true };
}

export const inlineCostPass: SchedulePass = {
  name: 'inline cost',
  run(s) {
    const materialised = new Set(s.materialised);
    const groups = [...s.groups];
    for (let i = 0; i < groups.length; i++) {
      for (;;) {
        const added = shrink(groups[i], materialised);
        if (!added) break;
        groups.push(added);
      }
    }
    if (groups.length === s.groups.length) return s;
    const next: Schedule = { ...s, materialised, groups };
    return { ...next, groups: orderGroups(next) };
  },
};
