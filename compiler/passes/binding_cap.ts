/**
 * Binding cap: a kernel may bind at most `maxStorageBuffersPerShaderStage` storage buffers.
 * When inlining a prologue would bind more distinct tensors, part of it is materialised: the
 * inlined node that brings the count down at the least memory traffic per binding saved (its
 * element count divided by the bindings saved; ties go to the larger subtree) becomes its own
 * elementwise kernel. When only the kernel's own operands remain (an epilogue reading many
 * tensors), its epilogue is cut short instead. Repeats until every kernel, including the new
 * ones, fits.
 */
import type { Node } from '../ir.ts';
import { numel } from '../ir.ts';
import { CompileError, describeOrigin } from './errors.ts';
import { orderGroups } from './order.ts';
import type { SchedulePass } from './pass.ts';
import {
  type Epilogue, type KernelGroup, type Pack, type Schedule, groupOutputs, groupRoots, inlinedTreeSizes, leavesOf, ownNodes, reachingTargets,
} from './schedule.ts';

function bindingCount(g: KernelGroup, roots: readonly Node[], s: Schedule, materialised: ReadonlySet<number>, stopAt?: ReadonlySet<number>): number {
  const keys = new Set<number>();
  for (const l of leavesOf(roots, materialised, stopAt)) keys.add(s.packs.get(l.id)?.head ?? s.aliases.get(l.id) ?? l.id);
  // Outputs are fresh tensors; a copy group writes one output tensor of its own.
  return keys.size + Math.max(groupOutputs(g).length, g.kind === 'elementwise' && !g.own ? 1 : 0);
}

/**
 * Shortens an epilogue by its last node (which becomes its own elementwise kernel, reading
 * the new end), or splits the last reduction off a row chain: for kernels whose own operands
 * alone exceed the cap.
 */
function cutEpilogue(g: KernelGroup, materialised: Set<number>, packs: Map<number, Pack>): { replaced: KernelGroup; added: KernelGroup } | undefined {
  const shorten = (e: Epilogue): { epi: Epilogue; cut: Node } | undefined => {
    if (e.chain.length === 0) return undefined;
    const chain = e.chain.slice(0, -1);
    const end = chain.length > 0 ? chain[chain.length - 1] : e.anchor;
    materialised.add(end.id);
    return { epi: { anchor: e.anchor, chain, end }, cut: e.end };
  };
  switch (g.kind) {
    case 'matmul': case 'conv': case 'attention': {
      const r = shorten(g.epi);
      return r && { replaced: { ...g, epi: r.epi }, added: { kind: 'elementwise', node: r.cut, own: true } };
    }
    case 'reduction': {
      // The group's results are no longer one kernel's: unpack them.
      for (const e of g.chain) packs.delete(e.end.id);
      if (g.chain.length > 1) return { replaced: { kind: 'reduction', chain: g.chain.slice(0, -1) }, added: { kind: 'reduction', chain: g.chain.slice(-1) } };
      const r = shorten(g.chain[0]);
      return r && { replaced: { kind: 'reduction', chain: [r.epi] }, added: { kind: 'elementwise', node: r.cut, own: true } };
    }
    case 'elementwise': return undefined;
  }
}

/**
 * Brings `g` under the cap by one step, if it is over: materialises one inlined node (a new
 * elementwise group) or, failing that, cuts its epilogue. Returns the groups to replace `g`.
 */
function relieve(g: KernelGroup, s: Schedule, materialised: Set<number>, packs: Map<number, Pack>, cap: number): KernelGroup[] | undefined {
  const roots = groupRoots(g);
  const count = bindingCount(g, roots, s, materialised);
  if (count <= cap) return undefined;
  const pinned = reachingTargets(roots, new Set(groupOutputs(g).map((n) => n.id)), materialised);
  let best: { node: Node; score: number; size: number } | undefined;
  for (const [node, size] of inlinedTreeSizes(roots, materialised)) {
    if (pinned.has(node.id)) continue;
    const c = bindingCount(g, roots, s, materialised, new Set([node.id]));
    if (c >= count) continue;
    const score = numel(node.shape) / (count - c);
    if (!best || score < best.score || (score === best.score && size > best.size)) best = { node, score, size };
  }
  if (best) {
    materialised.add(best.node.id);
    return [g, { kind: 'elementwise', node: best.node, own: true }];
  }
  const cut = cutEpilogue(g, materialised, packs);
  if (cut) return [cut.replaced, cut.added];
  const what = ownNodes(g)[0];
  throw new CompileError(
    `the kernel for ${what ? describeOrigin(what) : 'a graph output'} needs ${count} storage buffers, ` +
    `but this device allows ${cap} per kernel, and no part of it can be computed separately. ` +
    'Split the expression (e.g. combine fewer tensors in one expression) or use a device with a higher limit.');
}

export const bindingCapPass: SchedulePass = {
  name: 'binding cap',
  run(s, ctx) {
    const cap = ctx.target.limits.maxStorageBuffersPerShaderStage;
    const materialised = new Set(s.materialised);
    const packs = new Map(s.packs);
    const current: Schedule = { ...s, packs };
    const groups: KernelGroup[] = [...s.groups];
    // Materialising a node changes what every kernel inlining it binds, so sweep until stable.
    for (let changed = true; changed;) {
      changed = false;
      for (let i = 0; i < groups.length; i++) {
        for (;;) {
          const next = relieve(groups[i], current, materialised, packs, cap);
          if (!next) break;
          groups[i] = next[0];
          groups.push(...next.slice(1));
          changed = true;
        }
      }
    }
    const next: Schedule = { ...s, materialised, packs: completePacks(packs), groups };
    return { ...next, groups: orderGroups(next) };
  },
};

/** `packs` without groups that lost members (a pack of one is no pack). */
function completePacks(packs: ReadonlyMap<number, Pack>): Map<number, Pack> {
  const members = new Map<number, number>();
  for (const p of packs.values()) members.set(p.head, (members.get(p.head) ?? 0) + 1);
  return new Map([...packs].filter(([, p]) => members.get(p.head) === p.slots));
}
