/**
 * Recompute guard: an inlined node is evaluated again in every kernel that reads it, loading
 * all the stored tensors its expression reads. That is free when the expression reads one
 * full-size tensor (a norm's apply, a rotary, a scale) but not when it reads several: a
 * residual stream written as `x + f(a)` outside any anchor's epilogue (say, through a concat
 * of token ranges) would be rebuilt from every earlier block's outputs in every later kernel,
 * until the binding cap cuts it at random places.
 *
 * Traffic, per element of node n with U reading kernels and F full-size stored operands
 * (tensors at least as large as n; smaller ones are broadcast operands that stay in cache):
 * inlined, U·F loads; stored once, F loads + 1 store + U loads. The pass stores n (its own
 * elementwise kernel) when U·F > F + 1 + U, visiting operands before users so that a stored
 * node shortens what the nodes above it read.
 */
import type { Node } from '../ir.ts';
import { numel } from '../ir.ts';
import { orderGroups } from './order.ts';
import type { SchedulePass } from './pass.ts';
import { type KernelGroup, type Schedule, groupRoots, inlinedTreeSizes, isElementwise, leavesOf } from './schedule.ts';

/** Whether storing a node read by `readers` kernels, loading `fullOperands` full-size tensors, moves fewer bytes than recomputing it. */
export function storingIsCheaper(readers: number, fullOperands: number): boolean {
  return readers * fullOperands > fullOperands + 1 + readers;
}

/** The kernels (by index) that inline each node. */
function readersOf(groups: readonly KernelGroup[], materialised: ReadonlySet<number>): Map<Node, Set<number>> {
  const readers = new Map<Node, Set<number>>();
  groups.forEach((g, gi) => {
    for (const n of inlinedTreeSizes(groupRoots(g), materialised).keys()) {
      let r = readers.get(n);
      if (!r) readers.set(n, (r = new Set()));
      r.add(gi);
    }
  });
  return readers;
}

export const recomputePass: SchedulePass = {
  name: 'recompute guard',
  run(s) {
    const materialised = new Set(s.materialised);
    const readers = readersOf(s.groups, materialised);
    const added: KernelGroup[] = [];
    for (const n of s.order) {
      const r = readers.get(n);
      // Only computations: a view re-reads the same bytes wherever it is inlined.
      if (!r || r.size < 2 || !isElementwise(n)) continue;
      const size = numel(n.shape);
      let full = 0;
      for (const leaf of leavesOf([n], materialised)) if (numel(leaf.shape) >= size) full++;
      if (!storingIsCheaper(r.size, full)) continue;
      materialised.add(n.id);
      added.push({ kind: 'elementwise', node: n, own: true });
    }
    if (added.length === 0) return s;
    const next: Schedule = { ...s, materialised, groups: [...s.groups, ...added] };
    return { ...next, groups: orderGroups(next) };
  },
};
