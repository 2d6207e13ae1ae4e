/**
 * simplify: small, always-correct graph rewrites, as a table of named rules.
 *
 * - View chains fold: permute∘permute, slice∘slice, expand∘expand (reshape∘reshape and
 *   identity views are already folded by the builder).
 * - Views of a `const` are a `const` of the new shape.
 * - Elementwise ops whose operands are all `const` fold to a `const`, evaluated with the
 *   reference interpreter's own elementwise semantics (float64, i32 wrap, floor division).
 * - Identities: x*1, 1*x, x/1, x+0, 0+x, x-0, neg(neg(x)), where(const, a, b), and/or with
 *   a constant bool.
 *
 * splitWideConcats (target-dependent): a concat of more parts than a kernel can bind becomes
 * a tree of smaller concats, so the binding cap can materialise sub-concats.
 */
import type { GraphBuilder } from '../builder.ts';
import type { Graph, Node } from '../ir.ts';
import { evalBinary, evalCast, evalUnary, evalWhere } from '../reference/elementwise.ts';
import type { GraphPass, PassContext } from './pass.ts';
import { type RewriteRule, rewriteGraph } from './rebuild.ts';

const constValue = (n: Node): number | undefined => (n.op === 'const' ? n.value : undefined);
const isConst = (n: Node, v: number): boolean => n.op === 'const' && n.value === v;

const one = (v: number): Float64Array => Float64Array.of(v);

const foldPermute: RewriteRule = (b, n, [x]) => {
  if (n.op !== 'permute' || x.op !== 'permute') return undefined;
  return b.permute(x.src[0], n.perm.map((p) => x.perm[p]));
};

const foldSlice: RewriteRule = (b, n, [x]) => {
  if (n.op !== 'slice' || x.op !== 'slice') return undefined;
  const start = n.start.map((s, i) => x.start[i] + s * x.step[i]);
  const step = n.step.map((s, i) => s * x.step[i]);
  return b.slice(x.src[0], start, n.shape, step);
};

const foldExpand: RewriteRule = (b, n, [x]) => {
  if (n.op !== 'expand' || x.op !== 'expand') return undefined;
  return b.expand(x.src[0], n.shape);
};

/** Views that only rearrange or repeat one value everywhere. */
const constView: RewriteRule = (b, n, src) => {
  switch (n.op) {
    case 'reshape': case 'permute': case 'expand': case 'slice': case 'repeat': {
      const v = constValue(src[0]);
      return v === undefined ? undefined : b.const(v, n.shape, n.dtype);
    }
    case 'pad': {
      const v = constValue(src[0]);
      if (v === undefined) return undefined;
      if (n.mode === 'replicate' || Object.is(n.value, v) || n.value === v) return b.const(v, n.shape, n.dtype);
      return undefined;
    }
    case 'concat': {
      const v = constValue(src[0]);
      if (v === undefined || !src.every((s) => s.op === 'const' && (s.value === v || Object.is(s.value, v)))) return undefined;
      return b.const(v, n.shape, n.dtype);
    }
    default: return undefined;
  }
};

const foldConstants: RewriteRule = (b, n, src) => {
  if (src.length === 0 || !src.every((s) => s.op === 'const')) return undefined;
  const vals = src.map((s) => one(constValue(s)!));
  let r: Float64Array;
  switch (n.op) {
    case 'unary': r = evalUnary(n.fn, src[0].dtype, vals[0]); break;
    case 'binary': r = evalBinary(n.fn, src[0].dtype, vals[0], vals[1]); break;
    case 'where': r = evalWhere(vals[0], vals[1], vals[2]); break;
    case 'cast': r = evalCast(n.dtype, src[0].dtype, vals[0]); break;
    default: return undefined;
  }
  return b.const(r[0], n.shape, n.dtype);
};

const identities: RewriteRule = (_b, n, src) => {
  if (n.op === 'unary' && n.fn === 'neg' && src[0].op === 'unary' && src[0].fn === 'neg') return src[0].src[0];
  if (n.op === 'where' && src[0].op === 'const') return src[0].value ? src[1] : src[2];
  if (n.op !== 'binary') return undefined;
  const [a, c] = src;
  switch (n.fn) {
    case 'mul': return isConst(c, 1) ? a : isConst(a, 1) ? c : undefined;
    case 'div': return isConst(c, 1) ? a : undefined;
    case 'add': return isConst(c, 0) ? a : isConst(a, 0) ? c : undefined;
    case 'sub': return isConst(c, 0) ? a : undefined;
    case 'and': return isConst(c, 1) ? a : isConst(a, 1) ? c : undefined;
    case 'or': return isConst(c, 0) ? a : isConst(a, 0) ? c : undefined;
    default: return undefined;
  }
};

export const SIMPLIFY_RULES: readonly { readonly name: string; readonly rule: RewriteRule }[] = [
  { name: 'fold permute chains', rule: foldPermute },
  { name: 'fold slice chains', rule: foldSlice },
  { name: 'fold expand chains', rule: foldExpand },
  { name: 'views of constants', rule: constView },
  { name: 'fold constants', rule: foldConstants },
  { name: 'algebraic identities', rule: identities },
];

export const simplifyPass: GraphPass = {
  name: 'simplify',
  run: (g: Graph) => rewriteGraph(g, SIMPLIFY_RULES.map((r) => r.rule)),
};

/** The most parts one concat keeps: room for the output and one more operand. */
export function maxConcatParts(ctx: PassContext): number {
  return Math.max(2, ctx.target.limits.maxStorageBuffersPerShaderStage - 2);
}

function concatTree(b: GraphBuilder, parts: readonly Node[], axis: number, max: number): Node {
  if (parts.length <= max) return b.concat(parts, axis);
  const per = Math.ceil(parts.length / max);
  const groups: Node[] = [];
  for (let i = 0; i < parts.length; i += per) groups.push(concatTree(b, parts.slice(i, i + per), axis, max));
  return b.concat(groups, axis);
}

export const splitWideConcatsPass: GraphPass = {
  name: 'split wide concats',
  run: (g: Graph, ctx: PassContext) => {
    const max = maxConcatParts(ctx);
    return rewriteGraph(g, [(b, n, src) => (n.op === 'concat' && src.length > max ? concatTree(b, src, n.axis, max) : undefined)]);
  },
};
