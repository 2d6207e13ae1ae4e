/**
 * The operators of the language on every kind of value: config arithmetic on ints (Dims) and
 * floats, logic on bools (symbolic in check mode, with the facts each branch learns), list
 * concatenation, and tensor arithmetic (scalars become scalar tensors of the tensor's dtype).
 */
import type { BinaryOp } from '../ast.ts';
import type { BackendBinary } from '../backend.ts';
import { Dim } from '../dims.ts';
import { error } from '../diagnostics.ts';
import type { Span } from '../source.ts';
import * as ops from '../tensor_ops.ts';
import {
  boolValue, describeValue, floatValue, intValue, UNKNOWN, type SymBool, type TensorValue, type Value,
} from '../values.ts';
import type { Ctx } from './context.ts';

const FLIP: Record<string, string> = { '==': '!=', '!=': '==', '<': '>=', '>=': '<', '>': '<=', '<=': '>' };
const MIRROR: Record<string, string> = { '==': '==', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

function compareNumbers(op: string, a: number, b: number): boolean {
  switch (op) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    default: throw new Error(`internal: comparison ${op}`);
  }
}

/** A symbolic comparison of ints, canonicalised as `poly op 0` with a positive leading term. */
function symbolicIntCompare(op: string, a: Dim, b: Dim, display: string): SymBool {
  let diff = a.sub(b);
  let o = op;
  if (diff.terms.length > 0 && diff.terms[0].coef < 0) {
    diff = diff.neg();
    o = MIRROR[o];
  }
  const text = `${diff} ${o} 0`;
  const neg = `${diff} ${FLIP[o]} 0`;
  // `x == e` with x a bare variable: substitute x := e on the true branch (or the false branch of `!=`).
  let subst: [string, Dim] | undefined;
  if (o === '==' || o === '!=') {
    for (const t of diff.terms) {
      if (t.atoms.length === 1 && t.atoms[0].kind === 'sym' && Math.abs(t.coef) === 1) {
        const name = t.atoms[0].name;
        const sym = Dim.sym(name).mul(t.coef);
        const rest = diff.sub(sym);
        if (!rest.symbols().has(name)) {
          subst = [name, t.coef === 1 ? rest.neg() : rest];
          break;
        }
      }
    }
  }
  const eqFact = { conds: [o === '==' ? text : neg], subst };
  const neFact = { conds: [o === '==' ? neg : text] };
  return o === '=='
    ? { text, neg, display, whenTrue: eqFact, whenFalse: neFact }
    : o === '!='
      ? { text, neg, display, whenTrue: neFact, whenFalse: eqFact }
      : { text, neg, display, whenTrue: { conds: [text] }, whenFalse: { conds: [neg] } };
}

export function notValue(v: Value, span: Span): Value {
  if (v.kind === 'unknown') return v;
  if (v.kind === 'tensor') return UNKNOWN; // handled by the caller through tensor ops
  if (v.kind !== 'bool') throw error(`'not' needs a bool, got ${describeValue(v)}`, span);
  if (v.value !== undefined) return boolValue(!v.value);
  const s = v.sym!;
  return boolValue(undefined, { text: s.neg, neg: s.text, display: `not (${s.display})`, whenTrue: s.whenFalse, whenFalse: s.whenTrue });
}

function logic(op: 'and' | 'or', a: Value, b: Value, display: string): Value {
  if (a.kind !== 'bool' || b.kind !== 'bool') return UNKNOWN;
  if (a.value !== undefined) return op === 'and' ? (a.value ? b : a) : (a.value ? a : b);
  if (b.value !== undefined) return op === 'and' ? (b.value ? a : b) : (b.value ? b : a);
  const x = a.sym!;
  const y = b.sym!;
  if (op === 'and') {
    return boolValue(undefined, {
      text: `(${x.text}) and (${y.text})`, neg: `(${x.neg}) or (${y.neg})`, display,
      whenTrue: { conds: [...x.whenTrue.conds, ...y.whenTrue.conds], subst: x.whenTrue.subst ?? y.whenTrue.subst },
      whenFalse: { conds: [`(${x.neg}) or (${y.neg})`] },
    });
  }
  return boolValue(undefined, {
    text: `(${x.text}) or (${y.text})`, neg: `(${x.neg}) and (${y.neg})`, display,
    whenTrue: { conds: [`(${x.text}) or (${y.text})`] },
    whenFalse: { conds: [...x.whenFalse.conds, ...y.whenFalse.conds], subst: x.whenFalse.subst ?? y.whenFalse.subst },
  });
}

const TENSOR_FN: Partial<Record<BinaryOp, BackendBinary>> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod', '**': 'pow',
  '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', and: 'and', or: 'or',
};

/** A scalar operand as a tensor of `like`'s dtype. */
function asTensor(ctx: Ctx, site: ops.Site, v: Value, like: TensorValue): TensorValue {
  if (v.kind === 'tensor') return v.t;
  if (v.kind === 'int') {
    if (like.dtype === 'bool') throw error(`'${site.op}': cannot combine a bool tensor with ${describeValue(v)}`, site.span);
    const n = v.dim.value;
    return ops.scalarTensor(ctx, site, n, like.dtype);
  }
  if (v.kind === 'float') {
    if (like.dtype === 'i32' || like.dtype === 'bool') {
      throw error(`'${site.op}': cannot combine ${like.dtype === 'i32' ? 'an' : 'a'} ${like.dtype} tensor with ${describeValue(v)}`, site.span, { help: `cast the tensor to f32 first: cast(x, f32)` });
    }
    return ops.scalarTensor(ctx, site, v.value, like.dtype);
  }
  if (v.kind === 'bool') {
    if (like.dtype !== 'bool') throw error(`'${site.op}': cannot combine a ${like.dtype} tensor with a bool`, site.span);
    return ops.scalarTensor(ctx, site, v.value === undefined ? undefined : Number(v.value), 'bool');
  }
  throw error(`'${site.op}' cannot combine a tensor with ${describeValue(v)}`, site.span);
}

function tensorBinary(ctx: Ctx, op: BinaryOp, a: Value, b: Value, span: Span): Value {
  if (a.kind === 'unknown' || b.kind === 'unknown') return UNKNOWN;
  const site = { span, op };
  if (op === '@') {
    if (a.kind !== 'tensor' || b.kind !== 'tensor') throw error(`'@' multiplies two tensors, got ${describeValue(a)} and ${describeValue(b)}`, span);
    return { kind: 'tensor', t: ops.matmul(ctx, site, a.t, b.t) };
  }
  const like = a.kind === 'tensor' ? a.t : (b as Extract<Value, { kind: 'tensor' }>).t;
  const A = asTensor(ctx, site, a, like);
  const B = asTensor(ctx, site, b, like);
  if (op === '//') {
    if (A.dtype === 'i32') return { kind: 'tensor', t: ops.binary(ctx, site, 'div', A, B) };
    return { kind: 'tensor', t: ops.unary(ctx, site, 'floor', ops.binary(ctx, site, 'div', A, B)) };
  }
  if (op === '/' && A.dtype === 'i32') {
    throw error(`'/' on i32 tensors is ambiguous`, span, { help: "use '//' for floor division, or cast(x, f32) for true division" });
  }
  const fn = TENSOR_FN[op];
  if (!fn) throw error(`'${op}' is not defined on tensors`, span);
  return { kind: 'tensor', t: ops.binary(ctx, site, fn, A, B) };
}

export function binaryOp(ctx: Ctx, op: BinaryOp, a: Value, b: Value, span: Span, display: string): Value {
  if (op === 'and' || op === 'or') {
    if (a.kind === 'tensor' || b.kind === 'tensor') return tensorBinary(ctx, op, a, b, span);
    if (a.kind === 'unknown' || b.kind === 'unknown') return UNKNOWN;
    for (const v of [a, b]) if (v.kind !== 'bool') throw error(`'${op}' needs bools, got ${describeValue(v)}`, span, { help: 'compare first, e.g. n > 0' });
    return logic(op, a, b, display);
  }
  if ((op === '==' || op === '!=') && (a.kind === 'none' || b.kind === 'none')) {
    {
      if (a.kind === 'unknown' || b.kind === 'unknown') return boolValue(undefined, { text: display, neg: `not (${display})`, display, whenTrue: { conds: [display] }, whenFalse: { conds: [`not (${display})`] } });
      const same = a.kind === b.kind;
      return boolValue(op === '==' ? same : !same);
    }
  }
  if (a.kind === 'tensor' || b.kind === 'tensor') return tensorBinary(ctx, op, a, b, span);
  if (a.kind === 'unknown' || b.kind === 'unknown') return UNKNOWN;
  if (a.kind === 'int' && b.kind === 'int') return intBinary(ctx, op, a.dim, b.dim, span, display);
  if ((a.kind === 'int' || a.kind === 'float') && (b.kind === 'int' || b.kind === 'float')) {
    const x = a.kind === 'int' ? a.dim.value : a.value;
    const y = b.kind === 'int' ? b.dim.value : b.value;
    return floatBinary(op, x, y, span, display);
  }
  if (a.kind === 'bool' && b.kind === 'bool' && (op === '==' || op === '!=')) {
    if (a.value === undefined || b.value === undefined) return boolValue(undefined, { text: display, neg: `not (${display})`, display, whenTrue: { conds: [display] }, whenFalse: { conds: [`not (${display})`] } });
    return boolValue(op === '==' ? a.value === b.value : a.value !== b.value);
  }
  if (a.kind === 'str' && b.kind === 'str') {
    if (op === '+') return { kind: 'str', value: a.value !== undefined && b.value !== undefined ? a.value + b.value : undefined };
    if (op === '==' || op === '!=') {
      if (a.value === undefined || b.value === undefined) return boolValue(undefined, { text: display, neg: `not (${display})`, display, whenTrue: { conds: [display] }, whenFalse: { conds: [`not (${display})`] } });
      return boolValue(op === '==' ? a.value === b.value : a.value !== b.value);
    }
  }
  if (a.kind === 'dtype' && b.kind === 'dtype' && (op === '==' || op === '!=')) {
    return boolValue(op === '==' ? a.dtype === b.dtype : a.dtype !== b.dtype);
  }
  if (a.kind === 'list' && b.kind === 'list' && op === '+') return { kind: 'list', items: [...a.items, ...b.items] };
  if (a.kind === 'list' && b.kind === 'int' && op === '*') {
    const n = b.dim.value;
    if (n === undefined) return UNKNOWN;
    return { kind: 'list', items: Array.from({ length: Math.max(0, n) }, () => a.items).flat() };
  }
  throw error(`'${op}' is not defined for ${describeValue(a)} and ${describeValue(b)}`, span);
}

function intBinary(ctx: Ctx, op: BinaryOp, a: Dim, b: Dim, span: Span, display: string): Value {
  try {
    switch (op) {
      case '+': return intValue(a.add(b));
      case '-': return intValue(a.sub(b));
      case '*': return intValue(a.mul(b));
      case '//': return intValue(a.floorDiv(b));
      case '%': return intValue(a.mod(b));
      case '/': {
        const q = a.floorDiv(b);
        const r = a.mod(b);
        const rv = r.value;
        if (rv !== undefined && rv !== 0) {
          throw error(`${a} / ${b} is not an exact integer division`, span, { help: "use '//' for floor division, or a float (e.g. 1.0 * a / b) for a fraction" });
        }
        if (rv === undefined) ctx.obligation(`${a} must be divisible by ${b}`, span);
        return intValue(q);
      }
      case '**': {
        const e = b.value;
        if (e === undefined || e < 0) {
          const x = a.value;
          if (x !== undefined && e !== undefined) return floatValue(x ** e);
          throw error(`'**' on ints needs a known exponent >= 0, got ${b}`, span);
        }
        let r = Dim.of(1);
        for (let i = 0; i < e; i++) r = r.mul(a);
        return intValue(r);
      }
      case '==': case '!=': case '<': case '<=': case '>': case '>=': {
        const av = a.value;
        const bv = b.value;
        if (av !== undefined && bv !== undefined) return boolValue(compareNumbers(op, av, bv));
        const c = ctx.compare(a, b);
        if (c === 'equal' && (op === '==' || op === '<=' || op === '>=')) return boolValue(true);
        if (c === 'equal') return boolValue(false);
        if (c === 'different') {
          const diff = ctx.facts.apply(a).sub(ctx.facts.apply(b)).value!;
          return boolValue(compareNumbers(op, diff, 0));
        }
        return boolValue(undefined, symbolicIntCompare(op, ctx.facts.apply(a), ctx.facts.apply(b), display));
      }
      default:
        throw error(`'${op}' is not defined on ints`, span);
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'DimError') throw error(e.message, span);
    throw e;
  }
}

function floatBinary(op: BinaryOp, x: number | undefined, y: number | undefined, span: Span, display: string): Value {
  const known = x !== undefined && y !== undefined;
  switch (op) {
    case '+': return floatValue(known ? x + y : undefined);
    case '-': return floatValue(known ? x - y : undefined);
    case '*': return floatValue(known ? x * y : undefined);
    case '/': return floatValue(known ? x / y : undefined);
    case '//': return floatValue(known ? Math.floor(x / y) : undefined);
    case '%': return floatValue(known ? x - y * Math.floor(x / y) : undefined);
    case '**': return floatValue(known ? x ** y : undefined);
    case '==': case '!=': case '<': case '<=': case '>': case '>=':
      if (known) return boolValue(compareNumbers(op, x, y));
      return boolValue(undefined, { text: display, neg: `not (${display})`, display, whenTrue: { conds: [display] }, whenFalse: { conds: [`not (${display})`] } });
    default:
      throw error(`'${op}' is not defined on numbers`, span);
  }
}

export function negate(ctx: Ctx, v: Value, span: Span): Value {
  switch (v.kind) {
    case 'int': return intValue(v.dim.neg());
    case 'float': return floatValue(v.value === undefined ? undefined : -v.value);
    case 'tensor': return { kind: 'tensor', t: ops.unary(ctx, { span, op: '-' }, 'neg', v.t) };
    case 'unknown': return v;
    default: throw error(`unary '-' is not defined for ${describeValue(v)}`, span);
  }
}
