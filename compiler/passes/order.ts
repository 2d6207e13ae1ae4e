/**
 * Kernel order: a topological order of the groups by what they read and write, preferring the
 * graph's own order (the position of a group's first output in the node order) among the
 * groups that are ready. Throws if the groups depend on each other in a cycle (a fusion bug).
 */
import { type KernelGroup, type Schedule, groupLeaves, groupOutputs } from './schedule.ts';

export function orderGroups(s: Schedule): KernelGroup[] {
  const pos = new Map<number, number>();
  s.order.forEach((n, i) => pos.set(n.id, i));
  const producer = new Map<number, number>();
  s.groups.forEach((g, gi) => {
    for (const n of groupOutputs(g)) producer.set(n.id, gi);
  });
  const deps = s.groups.map((g, gi) => {
    const d = new Set<number>();
    for (const l of groupLeaves(g, s.materialised)) {
      const p = producer.get(s.aliases.get(l.id) ?? l.id);
      // A row chain reads its own earlier results (from registers): not a dependency.
      if (p !== undefined && p !== gi) d.add(p);
    }
    return d;
  });
  const key = s.groups.map((g) => {
    const outs = groupOutputs(g);
    if (outs.length === 0) return s.order.length + 1 + (g.kind === 'elementwise' ? g.outputIndex ?? 0 : 0);
    return Math.min(...outs.map((n) => pos.get(n.id) ?? Infinity));
  });
  const done = new Set<number>();
  const out: KernelGroup[] = [];
  while (out.length < s.groups.length) {
    let best = -1;
    for (let gi = 0; gi < s.groups.length; gi++) {
      if (done.has(gi)) continue;
      if ([...deps[gi]].some((d) => !done.has(d))) continue;
      if (best < 0 || key[gi] < key[best]) best = gi;
    }
    if (best < 0) throw new Error('kernel order: the kernel groups depend on each other in a cycle');
    done.add(best);
    out.push(s.groups[best]);
  }
  return out;
}
