/**
 * Joining values from two control-flow paths (check mode): an `if` whose condition is symbolic,
 * or a loop body whose effect is widened. Equal parts are kept; parts that differ become fresh
 * unknowns (so later comparisons with them are obligations, not errors). Tensors of different
 * dtype or rank cannot be joined: that is a real type error in the program.
 */
import { Dim } from '../dims.ts';
import { error } from '../diagnostics.ts';
import type { Span } from '../source.ts';
import { typeToString, UNKNOWN, type Value } from '../values.ts';
import type { Ctx, Facts } from './context.ts';

function sameDim(a: Dim, b: Dim, fa: Facts, fb: Facts): boolean {
  return a.equals(b) || fa.apply(a).equals(fa.apply(b)) || fb.apply(a).equals(fb.apply(b));
}

export function joinValues(ctx: Ctx, a: Value, b: Value, fa: Facts, fb: Facts, span: Span, what: string): Value {
  if (a.kind === 'unknown' || b.kind === 'unknown') return UNKNOWN;
  if (a.kind !== b.kind) {
    if (a.kind === 'tensor' || b.kind === 'tensor') {
      throw error(`${what} is ${a.kind === 'tensor' ? `a tensor ${typeToString(a.t)}` : a.kind} on one path and ${b.kind === 'tensor' ? `a tensor ${typeToString(b.t)}` : b.kind} on the other`, span, {
        help: 'every branch must produce the same kind of value',
      });
    }
    return UNKNOWN;
  }
  switch (a.kind) {
    case 'int': {
      const bd = (b as typeof a).dim;
      return sameDim(a.dim, bd, fa, fb) ? a : { kind: 'int', dim: ctx.freshDim() };
    }
    case 'tensor': {
      const bt = (b as typeof a).t;
      if (a.t.dtype !== bt.dtype || a.t.shape.length !== bt.shape.length) {
        throw error(`${what} is ${typeToString(a.t)} on one path and ${typeToString(bt)} on the other`, span, {
          help: 'both branches must give tensors of the same dtype and rank',
        });
      }
      const shape = a.t.shape.map((d, i) => (sameDim(d, bt.shape[i], fa, fb) ? d : ctx.freshDim()));
      const labels = a.t.labels.map((l, i) => (l === bt.labels[i] ? l : undefined));
      return { kind: 'tensor', t: { dtype: a.t.dtype, shape, labels, handle: undefined } };
    }
    case 'tuple': case 'list': {
      const bi = (b as typeof a).items;
      if (a.items.length !== bi.length) return UNKNOWN;
      const items = a.items.map((x, i) => joinValues(ctx, x, bi[i], fa, fb, span, `${what}[${i}]`));
      return a.kind === 'tuple' ? { kind: 'tuple', items, names: a.names } : { kind: 'list', items };
    }
    case 'float': return a.value === (b as typeof a).value ? a : { kind: 'float', value: undefined };
    case 'bool': return a.value === (b as typeof a).value && a.value !== undefined ? a : UNKNOWN;
    case 'str': return a.value === (b as typeof a).value ? a : { kind: 'str', value: undefined };
    case 'module': return a.inst === (b as typeof a).inst || a.inst.decl === (b as typeof a).inst.decl ? a : UNKNOWN;
    case 'none': return a;
    default: return a === b ? a : UNKNOWN;
  }
}
