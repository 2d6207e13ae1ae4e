/**
 * fuse: decide the kernel groups (see schedule.ts for the vocabulary).
 *
 * 1. Attention patterns become attention groups (attention.ts).
 * 2. Every other anchor gets an epilogue: from the anchor through nodes with a single user
 *    that is elementwise (hence the same shape and coordinates) and not yet claimed; the chain
 *    ends at a node with several users, a graph output, or a user reading it through a view.
 * 3. Materialised: graph inputs, epilogue ends, graph outputs. Everything else is inlined.
 * 4. Graph outputs that no anchor writes get a standalone elementwise kernel: computing the
 *    node, or copying it when it is an input or already stored as another output. An output
 *    that is a reshape of a materialised intermediate shares its bytes instead (an alias).
 *
 * unfused (fuse: false): every non-leaf node is materialised and gets its own group.
 */
import type { MatmulNode, Node } from '../ir.ts';
import { matchAttention } from './attention.ts';
import { orderGroups } from './order.ts';
import { isRelayout } from './weight_layout.ts';
import type { SchedulePass } from './pass.ts';
import {
  type Epilogue, type KernelGroup, type Schedule, isAnchor, isComputedLeaf, isElementwise,
} from './schedule.ts';

function extendEpilogue(anchor: Node, s: Schedule, claimed: Set<number>, outputs: ReadonlySet<number>): Epilogue {
  const chain: Node[] = [];
  let cur = anchor;
  for (;;) {
    if (outputs.has(cur.id)) break;
    const us = s.users.get(cur.id) ?? [];
    if (us.length !== 1) break;
    const u = us[0];
    if (!isElementwise(u) || claimed.has(u.id)) break;
    claimed.add(u.id);
    chain.push(u);
    cur = u;
  }
  return { anchor, chain, end: cur };
}

function anchorGroup(epi: Epilogue): KernelGroup {
  switch (epi.anchor.op) {
    case 'reduce': return { kind: 'reduction', chain: [epi] };
    case 'matmul': return { kind: 'matmul', epi };
    case 'conv': return { kind: 'conv', epi };
    default: throw new Error(`fuse: ${epi.anchor.op} is not an anchor`);
  }
}

/** Adds output groups and aliases for graph outputs that no group writes yet. */
function addOutputGroups(s: Schedule, materialised: Set<number>, groups: KernelGroup[], aliases: Map<number, number>): void {
  const written = new Set<number>();
  for (const g of groups) {
    if (g.kind === 'elementwise') { if (g.own) written.add(g.node.id); continue; }
    const ends = g.kind === 'reduction' ? g.chain.map((e) => e.end) : [g.epi.end];
    for (const e of ends) written.add(e.id);
  }
  const outputIds = new Set(s.graph.outputs.map((o) => o.node.id));
  const claimedOutput = new Set<number>();
  s.graph.outputs.forEach((o, k) => {
    const n = o.node;
    if (claimedOutput.has(n.id) || n.op === 'input') {
      groups.push({ kind: 'elementwise', node: n, own: false, outputIndex: k });
      return;
    }
    claimedOutput.add(n.id);
    materialised.add(n.id);
    if (written.has(n.id)) return;
    const base = n.src[0];
    if (n.op === 'reshape' && materialised.has(base.id) && base.op !== 'input' && !outputIds.has(base.id) &&
      ![...aliases.values()].includes(base.id)) {
      aliases.set(n.id, base.id);
      return;
    }
    groups.push({ kind: 'elementwise', node: n, own: true });
    written.add(n.id);
  });
}

export const fusePass: SchedulePass = {
  name: 'fuse',
  run(s) {
    const outputs = new Set(s.graph.outputs.map((o) => o.node.id));
    const claimed = new Set<number>();
    const groups: KernelGroup[] = [];
    for (const n of s.order) {
      if (n.op !== 'matmul' || claimed.has(n.id)) continue;
      const att = matchAttention(n as MatmulNode, { users: s.users, outputs });
      if (!att) continue;
      for (const x of [...att.internal, att.pv]) claimed.add(x.id);
      groups.push({ kind: 'attention', att, epi: extendEpilogue(att.pv, s, claimed, outputs) });
    }
    for (const n of s.order) {
      if (!isAnchor(n) || claimed.has(n.id)) continue;
      claimed.add(n.id);
      groups.push(anchorGroup(extendEpilogue(n, s, claimed, outputs)));
    }
    const materialised = new Set<number>();
    for (const n of s.order) if (n.op === 'input') materialised.add(n.id);
    // Relaid-out weights (weight_layout.ts) are copied once per run, not recomputed per load.
    for (const n of s.order) {
      if (isRelayout(n, s.users)) { materialised.add(n.id); groups.push({ kind: 'elementwise', node: n, own: true }); }
    }
    for (const g of groups) {
      if (g.kind === 'reduction') for (const e of g.chain) materialised.add(e.end.id);
      else if (g.kind !== 'elementwise') materialised.add(g.epi.end.id);
    }
    const aliases = new Map<number, number>();
    addOutputGroups(s, materialised, groups, aliases);
    const next: Schedule = { ...s, materialised, aliases, groups };
    return { ...next, groups: orderGroups(next) };
  },
};

export const unfusedPass: SchedulePass = {
  name: 'unfused',
  run(s) {
    const materialised = new Set<number>();
    const groups: KernelGroup[] = [];
    for (const n of s.order) {
      if (n.op === 'input') { materialised.add(n.id); continue; }
      if (isComputedLeaf(n)) continue;
      materialised.add(n.id);
      groups.push(isAnchor(n) ? anchorGroup({ anchor: n, chain: [], end: n }) : { kind: 'elementwise', node: n, own: true });
    }
    const aliases = new Map<number, number>();
    addOutputGroups(s, materialised, groups, aliases);
    const next: Schedule = { ...s, materialised, aliases, groups };
    return { ...next, groups: orderGroups(next) };
  },
};
