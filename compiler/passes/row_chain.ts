/**
 * Row-reduction chains: reductions over the same rows (same operand shape, same reduced
 * axes) run in one kernel, one workgroup (or thread) per row, even when a later reduction's
 * prologue or epilogue uses an earlier one's result (GroupNorm's mean then variance around
 * the mean; softmax's max then sum of exp(x - max)). Legal when:
 * - every inlined path from the later reduction to an earlier result keeps the row's
 *   coordinates on the kept axes (only elementwise nodes and expands along reduced axes), so
 *   the value is the current row's, held in registers; and
 * - nothing the later reduction loads from memory depends on an earlier result (that would
 *   need another kernel in between).
 */
import type { Node, ReduceNode } from '../ir.ts';
import { orderGroups } from './order.ts';
import type { SchedulePass } from './pass.ts';
import { type Epilogue, type KernelGroup, type Schedule, groupLeaves, isComputedLeaf, isElementwise } from './schedule.ts';

type ReductionGroup = Extract<KernelGroup, { kind: 'reduction' }>;

const rowKey = (r: ReduceNode): string => `${r.src[0].shape.join('x')}|${r.axes.join(',')}`;

/** True if every inlined path from `roots` to a node of `targets` keeps row coordinates. */
export function rowLocal(roots: readonly Node[], targets: ReadonlySet<number>, axes: readonly number[], materialised: ReadonlySet<number>): boolean {
  const reaches = new Map<number, boolean>();
  const reach = (n: Node): boolean => {
    const hit = reaches.get(n.id);
    if (hit !== undefined) return hit;
    let r = targets.has(n.id);
    if (!r && !materialised.has(n.id) && !isComputedLeaf(n)) for (const s of n.src) if (reach(s)) r = true;
    reaches.set(n.id, r);
    return r;
  };
  const seen = new Set<number>();
  const ok = (n: Node): boolean => {
    if (seen.has(n.id) || !reach(n) || targets.has(n.id)) return true;
    seen.add(n.id);
    if (isElementwise(n)) return n.src.every(ok);
    if (n.op === 'expand') {
      const src = n.src[0];
      const onlyReduced = n.shape.every((d, a) => d === src.shape[a] || axes.includes(a));
      return onlyReduced && ok(src);
    }
    return false;
  };
  return roots.every(ok);
}

/** Whether `n` depends (through any graph edges) on a node of `targets`. */
function dependsOn(n: Node, targets: ReadonlySet<number>, memo: Map<number, boolean>): boolean {
  const stack: [Node, number][] = [[n, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [x, i] = top;
    if (memo.has(x.id)) { stack.pop(); continue; }
    if (targets.has(x.id)) { memo.set(x.id, true); stack.pop(); continue; }
    if (i < x.src.length) {
      top[1] = i + 1;
      const s = x.src[i];
      if (!memo.has(s.id)) stack.push([s, 0]);
      continue;
    }
    memo.set(x.id, x.src.some((s) => memo.get(s.id) === true));
    stack.pop();
  }
  return memo.get(n.id) === true;
}

function canJoin(chain: ReductionGroup, epi: Epilogue, s: Schedule): boolean {
  const r = epi.anchor as ReduceNode;
  const ends = new Set(chain.chain.map((e) => e.end.id));
  const own = new Set([r.id, ...epi.chain.map((n) => n.id)]);
  const sideRoots = epi.chain.flatMap((n) => n.src.filter((x) => !own.has(x.id)));
  if (!rowLocal([r.src[0], ...sideRoots], ends, r.axes, s.materialised)) return false;
  const single: KernelGroup = { kind: 'reduction', chain: [epi] };
  const memo = new Map<number, boolean>();
  for (const leaf of groupLeaves(single, s.materialised)) {
    if (ends.has(leaf.id)) continue;
    if (dependsOn(leaf, ends, memo)) return false;
  }
  return true;
}

export const rowChainPass: SchedulePass = {
  name: 'row chains',
  run(s) {
    const open = new Map<string, ReductionGroup>();
    const merged = new Map<KernelGroup, ReductionGroup>();
    const groups: KernelGroup[] = [];
    for (const g of s.groups) {
      if (g.kind !== 'reduction' || g.chain.length !== 1) { groups.push(g); continue; }
      const epi = g.chain[0];
      const key = rowKey(epi.anchor as ReduceNode);
      const prev = open.get(key);
      if (prev) {
        const cur = merged.get(prev) ?? prev;
        if (canJoin(cur, epi, s)) {
          const joined: ReductionGroup = { kind: 'reduction', chain: [...cur.chain, epi] };
          groups[groups.indexOf(cur)] = joined;
          merged.set(prev, joined);
          continue;
        }
      }
      open.set(key, g);
      groups.push(g);
    }
    const next: Schedule = { ...s, groups };
    return { ...next, groups: orderGroups(next) };
  },
};
