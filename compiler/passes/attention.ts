/**
 * Recognises attention: `matmul(softmax_lastaxis(S), V)` where S is an elementwise expression
 * of `matmul(Q, Kᵀ)` (and of side operands indexed like S: masks from iota/compare, loads,
 * constants), and the softmax has the prelude's stable form
 *
 *   E = exp(S - expand(max(S, last)));  P = E / expand(sum(E, last))   (or E * recip(...))
 *
 * with no users of the intermediate nodes outside the pattern. A match becomes one flash
 * attention kernel; anything else falls back to ordinary kernels.
 */
import type { MatmulNode, Node, ReduceNode } from '../ir.ts';
import { type AttentionMatch, isElementwise } from './schedule.ts';

interface Ctx {
  readonly users: ReadonlyMap<number, readonly Node[]>;
  readonly outputs: ReadonlySet<number>;
}

const isLastAxisReduce = (n: Node, fn: 'sum' | 'max'): n is ReduceNode =>
  n.op === 'reduce' && n.fn === fn && n.axes.length === 1 && n.axes[0] === n.shape.length - 1;

/**
 * `expand(r)` back to the shape of r's operand, along the reduced (last) axis; or r itself
 * when that axis has size 1 (the builder drops the identity expand).
 */
function expandedReduce(n: Node, fn: 'sum' | 'max'): ReduceNode | undefined {
  if (isLastAxisReduce(n, fn) && n.src[0].shape.every((d, i) => d === n.shape[i])) return n;
  if (n.op !== 'expand') return undefined;
  const r = n.src[0];
  if (!isLastAxisReduce(r, fn)) return undefined;
  const src = r.src[0];
  return src.shape.every((d, i) => d === n.shape[i]) ? r : undefined;
}

/** P = E / expand(sum(E)), E * expand(recip(sum(E))) or E * recip(expand(sum(E))). */
function matchNormalise(p: Node): { e: Node; extra: Node[] } | undefined {
  if (p.op !== 'binary') return undefined;
  if (p.fn === 'div') {
    const sum = expandedReduce(p.src[1], 'sum');
    if (sum && sum.src[0] === p.src[0]) return { e: p.src[0], extra: sum === p.src[1] ? [sum] : [p.src[1], sum] };
    return undefined;
  }
  if (p.fn !== 'mul') return undefined;
  for (const [e, other] of [[p.src[0], p.src[1]], [p.src[1], p.src[0]]] as const) {
    if (other.op === 'unary' && other.fn === 'recip') {
      const sum = expandedReduce(other.src[0], 'sum');
      if (sum && sum.src[0] === e) return { e, extra: sum === other.src[0] ? [other, sum] : [other, other.src[0], sum] };
    }
    if (other.op === 'expand' && other.src[0].op === 'unary' && other.src[0].fn === 'recip') {
      const r = other.src[0].src[0];
      if (isLastAxisReduce(r, 'sum') && r.src[0] === e && e.shape.every((d, i) => d === other.shape[i])) {
        return { e, extra: [other, other.src[0], r] };
      }
    }
  }
  return undefined;
}

/**
 * The score expression's nodes that depend on the unique matmul reached through elementwise
 * nodes only; side operands (not depending on it) are left out.
 */
function matchScores(s: Node): { qk: MatmulNode; nodes: Node[] } | undefined {
  let qk: MatmulNode | undefined;
  const memo = new Map<number, boolean>();
  const nodes: Node[] = [];
  let ok = true;
  const reachesMatmul = (n: Node): boolean => {
    const hit = memo.get(n.id);
    if (hit !== undefined) return hit;
    let r = false;
    if (n.op === 'matmul' && n.shape.every((d, i) => d === s.shape[i])) {
      if (qk && qk !== n) ok = false;
      qk = n;
      r = true;
    } else if (isElementwise(n)) {
      for (const x of n.src) if (reachesMatmul(x)) r = true;
    }
    memo.set(n.id, r);
    if (r) nodes.push(n);
    return r;
  };
  if (!reachesMatmul(s) || !ok || !qk) return undefined;
  return { qk, nodes };
}

export function matchAttention(pv: MatmulNode, ctx: Ctx): AttentionMatch | undefined {
  const [p, v] = pv.src;
  const r = pv.shape.length;
  if (p.shape.length !== r || r < 2) return undefined;
  const norm = matchNormalise(p);
  if (!norm) return undefined;
  const e = norm.e;
  if (e.op !== 'unary' || e.fn !== 'exp') return undefined;
  const d = e.src[0];
  if (d.op !== 'binary' || d.fn !== 'sub') return undefined;
  const s = d.src[0];
  const max = expandedReduce(d.src[1], 'max');
  if (!max || max.src[0] !== s) return undefined;
  const scores = matchScores(s);
  if (!scores) return undefined;
  const { qk } = scores;
  const internal = [...scores.nodes, max, d.src[1], d, e, ...norm.extra, p];
  const inside = new Set([...internal.map((n) => n.id), pv.id]);
  for (const n of internal) {
    if (ctx.outputs.has(n.id)) return undefined;
    for (const u of ctx.users.get(n.id) ?? []) if (!inside.has(u.id)) return undefined;
  }
  const [q, kt] = qk.src;
  if (!q.dtype.startsWith('f') || q.dtype !== v.dtype) return undefined;
  // Dedupe (an expand may appear twice if the builder merged equal nodes).
  const uniq = [...new Map(internal.map((n) => [n.id, n])).values()];
  return { pv, qk, scores: s, q, kt, v, internal: uniq };
}
