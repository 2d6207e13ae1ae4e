/**
 * The schedule: the fusion stage's own IR, between the graph and the generated kernels.
 *
 * Vocabulary
 * - Materialised node: a node whose value is stored in a tensor (graph inputs and weights,
 *   anchor epilogue ends, graph outputs, and whatever the binding cap forces). Every other
 *   node is *inlined*: recomputed inside each kernel that reads it (views become index maps).
 * - Anchor: a reduction or contraction; each kernel has at most one (a row chain has several
 *   reductions over the same rows, an attention group has its two matmuls and softmax).
 * - Epilogue: the chain from an anchor through single-user, same-shape elementwise nodes; its
 *   last node (`end`) is materialised and written at the anchor's store.
 * - Group: one future kernel. `own` nodes are computed by the group itself; its *roots* are
 *   the operands of own nodes that are not own (evaluated as inlined expressions); its
 *   *leaves* are the materialised nodes those expressions load (its read bindings).
 */
import type { Graph, MatmulNode, Node } from '../ir.ts';
import { topoSort, usersOf } from '../ir.ts';

export interface Epilogue {
  readonly anchor: Node;
  /** Nodes after the anchor, in order; the last is `end` (empty when the anchor is the end). */
  readonly chain: readonly Node[];
  readonly end: Node;
}

export interface AttentionMatch {
  /** matmul(P, V): the output anchor. */
  readonly pv: MatmulNode;
  /** matmul(Q, Kᵀ). */
  readonly qk: MatmulNode;
  /** The score expression S (an elementwise function of qk and side operands; may be qk). */
  readonly scores: Node;
  readonly q: Node;
  readonly kt: Node;
  readonly v: Node;
  /** Every node computed inside the kernel besides pv and its epilogue. */
  readonly internal: readonly Node[];
}

export type KernelGroup =
  /** `own`: compute `node`; otherwise copy the materialised `node` into output `outputIndex`. */
  | { readonly kind: 'elementwise'; readonly node: Node; readonly own: boolean; readonly outputIndex?: number }
  | { readonly kind: 'reduction'; readonly chain: readonly Epilogue[] }
  | { readonly kind: 'matmul'; readonly epi: Epilogue }
  | { readonly kind: 'conv'; readonly epi: Epilogue }
  | { readonly kind: 'attention'; readonly att: AttentionMatch; readonly epi: Epilogue };

export interface Schedule {
  readonly graph: Graph;
  /** Every node reachable from the outputs, operands first. */
  readonly order: readonly Node[];
  readonly users: ReadonlyMap<number, readonly Node[]>;
  readonly materialised: ReadonlySet<number>;
  /** Materialised nodes stored in another node's tensor (a reshape is the same bytes). */
  readonly aliases: ReadonlyMap<number, number>;
  /** Row results stored interleaved in one tensor (passes/pack_row_results.ts). */
  readonly packs: ReadonlyMap<number, Pack>;
  readonly groups: readonly KernelGroup[];
}

/**
 * A node stored interleaved with others of its shape in the tensor of `head`: element i of
 * the node is element i·slots + slot of the tensor.
 */
export interface Pack {
  readonly head: number;
  readonly slot: number;
  readonly slots: number;
}

export function emptySchedule(graph: Graph): Schedule {
  const order = topoSort(graph.outputs.map((o) => o.node));
  return { graph, order, users: usersOf(order), materialised: new Set(), aliases: new Map(), packs: new Map(), groups: [] };
}

export const isAnchor = (n: Node): boolean => n.op === 'reduce' || n.op === 'matmul' || n.op === 'conv';
export const isElementwise = (n: Node): boolean => n.op === 'unary' || n.op === 'binary' || n.op === 'where' || n.op === 'cast';
export const isComputedLeaf = (n: Node): boolean => n.op === 'const' || n.op === 'iota' || n.op === 'random';

export function epilogueNodes(e: Epilogue): Node[] {
  return [e.anchor, ...e.chain];
}

/** The nodes a group computes itself. */
export function ownNodes(g: KernelGroup): Node[] {
  switch (g.kind) {
    case 'elementwise': return g.own ? [g.node] : [];
    case 'reduction': return g.chain.flatMap(epilogueNodes);
    case 'matmul': case 'conv': return epilogueNodes(g.epi);
    case 'attention': return [...g.att.internal, ...epilogueNodes(g.epi)];
  }
}

/** The materialised nodes a group writes. */
export function groupOutputs(g: KernelGroup): Node[] {
  switch (g.kind) {
    case 'elementwise': return g.own ? [g.node] : [];
    case 'reduction': return g.chain.map((e) => e.end);
    case 'matmul': case 'conv': case 'attention': return [g.epi.end];
  }
}

/** Operands of own nodes that the group evaluates as inlined expressions (or loads). */
export function groupRoots(g: KernelGroup): Node[] {
  if (g.kind === 'elementwise' && !g.own) return [g.node];
  const own = new Set(ownNodes(g).map((n) => n.id));
  const roots: Node[] = [];
  const seen = new Set<number>();
  for (const n of ownNodes(g)) {
    for (const s of n.src) {
      if (own.has(s.id) || seen.has(s.id)) continue;
      seen.add(s.id);
      roots.push(s);
    }
  }
  return roots;
}

/**
 * Every inlined node under `roots` with the size of its expression tree (shared subtrees
 * counted once per reference, saturating at 2^53 - 1: the count can grow exponentially).
 */
export function inlinedTreeSizes(roots: readonly Node[], materialised: ReadonlySet<number>): Map<Node, number> {
  const size = new Map<Node, number>();
  const visit = (n: Node): number => {
    if (materialised.has(n.id) || isComputedLeaf(n)) return 0;
    const hit = size.get(n);
    if (hit !== undefined) return hit;
    let total = 1;
    for (const src of n.src) total = Math.min(Number.MAX_SAFE_INTEGER, total + visit(src));
    size.set(n, total);
    return total;
  };
  roots.forEach(visit);
  return size;
}

/**
 * The materialised nodes reachable from `roots` through inlined nodes: what loading those
 * expressions binds. `stopAt` adds extra boundary nodes (candidates being materialised).
 */
export function leavesOf(roots: readonly Node[], materialised: ReadonlySet<number>, stopAt?: ReadonlySet<number>): Set<Node> {
  const leaves = new Set<Node>();
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    if (materialised.has(n.id) || stopAt?.has(n.id)) { leaves.add(n); continue; }
    if (isComputedLeaf(n)) continue;
    if (n.op === 'input' || isAnchor(n)) throw new Error(`schedule: %${n.id} (${n.op}) is inlined but cannot be`);
    for (const s of n.src) stack.push(s);
  }
  return leaves;
}

/** Materialised nodes a group reads (its read bindings, before aliasing). */
export function groupLeaves(g: KernelGroup, materialised: ReadonlySet<number>): Set<Node> {
  return leavesOf(groupRoots(g), materialised);
}

/** Nodes that reach one of `targets` through inlined nodes (they must stay in the kernel). */
export function reachingTargets(roots: readonly Node[], targets: ReadonlySet<number>, materialised: ReadonlySet<number>): Set<number> {
  const memo = new Map<number, boolean>();
  const reach = (n: Node): boolean => {
    const hit = memo.get(n.id);
    if (hit !== undefined) return hit;
    let r = targets.has(n.id);
    if (!r && !materialised.has(n.id) && !isComputedLeaf(n)) for (const x of n.src) if (reach(x)) r = true;
    memo.set(n.id, r);
    return r;
  };
  roots.forEach(reach);
  return new Set([...memo].filter(([, r]) => r).map(([id]) => id));
}
