/**
 * The builtins: the language's intrinsic functions, each a thin layer from arguments to the
 * typed tensor ops of tensor_ops.ts (or to config arithmetic). Everything else — silu,
 * group_norm, softmax, attention, Linear, Conv3d... — is Kiln code in dsl/prelude/.
 */
import type { Arg } from '../ast.ts';
import type { BackendUnary } from '../backend.ts';
import { Dim } from '../dims.ts';
import { error } from '../diagnostics.ts';
import type { Elaborator, Env } from '../elaborate/elaborator.ts';
import type { Span } from '../source.ts';
import * as ops from '../tensor_ops.ts';
import { describeValue, floatValue, intValue, typeToString, UNKNOWN, type TensorValue, type Value } from '../values.ts';
import { Args, parseSpec, type ParamSpec } from './args.ts';
import { rearrange } from './rearrange.ts';

type Impl = (a: Args) => Value;

interface Builtin {
  readonly params: readonly ParamSpec[];
  readonly extraKeywords?: boolean;
  readonly impl: Impl;
}

const table = new Map<string, Builtin>();

function def(name: string, spec: readonly string[], impl: Impl, extraKeywords = false): void {
  table.set(name, { params: parseSpec(spec), impl, extraKeywords });
}

export const BUILTINS: ReadonlyMap<string, Builtin> = table;

export const CONSTANTS: ReadonlyMap<string, Value> = new Map<string, Value>([
  ['inf', floatValue(Infinity)],
  ['nan', floatValue(NaN)],
  ['pi', floatValue(Math.PI)],
  ['f32', { kind: 'dtype', dtype: 'f32' }],
  ['f16', { kind: 'dtype', dtype: 'f16' }],
  ['i32', { kind: 'dtype', dtype: 'i32' }],
  ['bool', { kind: 'dtype', dtype: 'bool' }],
]);

export function callBuiltin(el: Elaborator, name: string, args: readonly Arg[], env: Env, span: Span): Value {
  const b = table.get(name)!;
  return b.impl(new Args(el, name, args, env, span, b.params, b.extraKeywords));
}

const T = (t: TensorValue): Value => ({ kind: 'tensor', t });
const site = (a: Args) => ({ span: a.span, op: a.fn });

function requireTensor(a: Args, name: string): TensorValue | undefined {
  const v = a.value(name);
  if (v === undefined || v.kind === 'unknown') return undefined;
  if (v.kind !== 'tensor') throw error(`${a.fn}(): '${name}' must be a tensor, got ${describeValue(v)}`, a.spanOf(name));
  return v.t;
}

// ------------------------------------------------------------------ elementwise math

const SCALAR_MATH: Record<string, (x: number) => number> = {
  exp: Math.exp, log: Math.log, sqrt: Math.sqrt, rsqrt: (x) => 1 / Math.sqrt(x), tanh: Math.tanh,
  sin: Math.sin, cos: Math.cos, abs: Math.abs, floor: Math.floor, ceil: Math.ceil, reciprocal: (x) => 1 / x,
};
const UNARY_FN: Record<string, BackendUnary> = {
  exp: 'exp', log: 'log', sqrt: 'sqrt', rsqrt: 'rsqrt', tanh: 'tanh', sin: 'sin', cos: 'cos', abs: 'abs',
  floor: 'floor', ceil: 'ceil', reciprocal: 'recip',
};

for (const name of Object.keys(UNARY_FN)) {
  def(name, ['x'], (a) => {
    const v = a.value('x')!;
    if (v.kind === 'tensor') return T(ops.unary(a.el.ctx, site(a), UNARY_FN[name], v.t));
    if (v.kind === 'int' && (name === 'abs' || name === 'floor' || name === 'ceil')) {
      const n = v.dim.value;
      return n === undefined ? (name === 'abs' ? intValue(a.el.ctx.freshDim()) : v) : intValue(Math.abs(n));
    }
    if (v.kind === 'float' || v.kind === 'int') {
      const x = v.kind === 'int' ? v.dim.value : v.value;
      return floatValue(x === undefined ? undefined : SCALAR_MATH[name](x));
    }
    if (v.kind === 'unknown') return UNKNOWN;
    throw error(`${name}() needs a tensor or a number, got ${describeValue(v)}`, a.spanOf('x'));
  });
}

function minMax(a: Args, which: 'max' | 'min', first: Value, second: Value): Value {
  if (first.kind === 'tensor' || second.kind === 'tensor') {
    const like = first.kind === 'tensor' ? first.t : (second as { t: TensorValue }).t;
    const toT = (v: Value, span: Span): TensorValue => {
      if (v.kind === 'tensor') return v.t;
      if (v.kind === 'int' || v.kind === 'float') return ops.scalarTensor(a.el.ctx, site(a), v.kind === 'int' ? v.dim.value : v.value, like.dtype);
      throw error(`${a.fn}(): cannot combine a tensor with ${describeValue(v)}`, span);
    };
    return T(ops.binary(a.el.ctx, site(a), which, toT(first, a.span), toT(second, a.span)));
  }
  if (first.kind === 'int' && second.kind === 'int') {
    const c = a.el.ctx.compare(first.dim, second.dim);
    if (c === 'equal') return first;
    const x = first.dim.value;
    const y = second.dim.value;
    if (x !== undefined && y !== undefined) return intValue(which === 'max' ? Math.max(x, y) : Math.min(x, y));
    if (c === 'different') {
      const d = first.dim.sub(second.dim).value!;
      return (d > 0) === (which === 'max') ? first : second;
    }
    return intValue(a.el.ctx.freshDim());
  }
  const num = (v: Value) => (v.kind === 'int' ? v.dim.value : v.kind === 'float' ? v.value : undefined);
  if ((first.kind === 'int' || first.kind === 'float') && (second.kind === 'int' || second.kind === 'float')) {
    const x = num(first);
    const y = num(second);
    return floatValue(x === undefined || y === undefined ? undefined : which === 'max' ? Math.max(x, y) : Math.min(x, y));
  }
  if (first.kind === 'unknown' || second.kind === 'unknown') return UNKNOWN;
  throw error(`${a.fn}() needs numbers or tensors, got ${describeValue(first)} and ${describeValue(second)}`, a.span);
}

def('maximum', ['a', 'b'], (a) => minMax(a, 'max', a.value('a')!, a.value('b')!));
def('minimum', ['a', 'b'], (a) => minMax(a, 'min', a.value('a')!, a.value('b')!));

def('where', ['cond', 'a', 'b'], (a) => {
  const cond = requireTensor(a, 'cond');
  const va = a.value('a')!;
  const vb = a.value('b')!;
  if (!cond) return UNKNOWN;
  const like = va.kind === 'tensor' ? va.t : vb.kind === 'tensor' ? vb.t : undefined;
  const toT = (v: Value, name: string): TensorValue => {
    if (v.kind === 'tensor') return v.t;
    const dtype = like?.dtype ?? (v.kind === 'int' ? 'i32' : 'f32');
    if (v.kind === 'int') return ops.scalarTensor(a.el.ctx, site(a), v.dim.value, dtype);
    if (v.kind === 'float') return ops.scalarTensor(a.el.ctx, site(a), v.value, dtype);
    if (v.kind === 'bool') return ops.scalarTensor(a.el.ctx, site(a), v.value === undefined ? undefined : Number(v.value), 'bool');
    throw error(`where(): '${name}' must be a tensor or a number, got ${describeValue(v)}`, a.spanOf(name));
  };
  if (va.kind === 'unknown' || vb.kind === 'unknown') return UNKNOWN;
  return T(ops.where(a.el.ctx, site(a), cond, toT(va, 'a'), toT(vb, 'b')));
});

def('cast', ['x', 'dtype'], (a) => {
  const x = requireTensor(a, 'x');
  const dtype = a.dtype('dtype', 'f32');
  return x ? T(ops.cast(a.el.ctx, site(a), x, dtype)) : UNKNOWN;
});

// ------------------------------------------------------------------ reductions

function reduction(a: Args, fn: 'sum' | 'max' | 'mean' | 'min'): Value {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const keepdim = a.bool('keepdim', false);
  const ctx = a.el.ctx;
  if (!a.el.tracing && a.axesUnknown('axis', x)) {
    // An axis given by a symbolic int (e.g. a function parameter): the reduced axis is unknown.
    return keepdim ? T({ dtype: x.dtype, shape: x.shape.map(() => ctx.freshDim()), labels: x.shape.map(() => undefined), handle: undefined }) : UNKNOWN;
  }
  const axes = a.axes('axis', x) ?? x.shape.map((_, i) => i);
  const s = site(a);
  if (fn === 'min') {
    const neg = ops.unary(ctx, s, 'neg', x);
    return T(ops.unary(ctx, s, 'neg', ops.reduce(ctx, s, 'max', neg, axes, keepdim)));
  }
  if (fn !== 'mean') return T(ops.reduce(ctx, s, fn, x, axes, keepdim));
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw error(`mean() needs a float tensor, got ${typeToString(x)}`, a.span, { help: 'cast(x, f32) first' });
  const total = ops.reduce(ctx, s, 'sum', x, axes, keepdim);
  const count = axes.reduce((acc, i) => acc.mul(x.shape[i < 0 ? i + x.shape.length : i]), Dim.of(1));
  const n = count.value;
  return T(ops.binary(ctx, s, 'div', total, ops.scalarTensor(ctx, s, n, x.dtype)));
}

def('sum', ['x', 'axis?', 'keepdim?'], (a) => reduction(a, 'sum'));
def('mean', ['x', 'axis?', 'keepdim?'], (a) => reduction(a, 'mean'));
for (const which of ['max', 'min'] as const) {
  def(which, ['x', 'y?', 'axis?', 'keepdim?'], (a) => {
    const x = a.value('x')!;
    if (a.has('y')) return minMax(a, which, x, a.value('y')!);
    if (x.kind === 'list' || x.kind === 'tuple') {
      if (x.items.length === 0) throw error(`${which}() of an empty list`, a.span);
      return x.items.reduce((acc, v) => minMax(a, which, acc, v));
    }
    return reduction(a, which);
  });
}

// ------------------------------------------------------------------ views

def('reshape', ['x', 'shape'], (a) => {
  const x = requireTensor(a, 'x');
  const shape = a.shape('shape', true);
  return x ? T(ops.reshape(a.el.ctx, site(a), x, shape)) : UNKNOWN;
});

def('permute', ['x', 'axes'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  return T(ops.permute(a.el.ctx, site(a), x, a.axes('axes', x)!));
});

def('transpose', ['x', 'a?', 'b?'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const r = x.shape.length;
  const i = a.has('a') ? a.axisOf(a.arg('a')!.value, x) : r - 2;
  const j = a.has('b') ? a.axisOf(a.arg('b')!.value, x) : r - 1;
  const perm = x.shape.map((_, k) => k);
  perm[i] = j;
  perm[j] = i;
  return T(ops.permute(a.el.ctx, site(a), x, perm));
});

def('unsqueeze', ['x', 'axis'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const n = a.knownInt('axis');
  const r = x.shape.length + 1;
  const ax = n < 0 ? n + r : n;
  if (ax < 0 || ax >= r) throw error(`unsqueeze(): axis ${n} is out of range for a result of rank ${r}`, a.spanOf('axis'));
  const shape = [...x.shape];
  shape.splice(ax, 0, Dim.of(1));
  const labels = [...x.labels];
  labels.splice(ax, 0, undefined);
  return T(ops.reshape(a.el.ctx, site(a), x, shape, labels));
});

def('squeeze', ['x', 'axis?'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const axes = a.axes('axis', x) ?? x.shape.map((d, i) => (d.value === 1 ? i : -1)).filter((i) => i >= 0);
  for (const i of axes) {
    a.el.ctx.requireEqual(x.shape[i], Dim.of(1), a.span, () => ({ message: `squeeze(): axis ${i} of ${typeToString(x)} has size ${x.shape[i]}, not 1`, help: 'only axes of size 1 can be squeezed' }));
  }
  return T(ops.reshape(a.el.ctx, site(a), x, x.shape.filter((_, i) => !axes.includes(i)), x.labels.filter((_, i) => !axes.includes(i))));
});

def('flatten', ['x', 'start?', 'end?'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const r = x.shape.length;
  const s = a.has('start') ? a.axisOf(a.arg('start')!.value, x) : 0;
  const e = a.has('end') ? a.axisOf(a.arg('end')!.value, x) : r - 1;
  if (e < s) throw error(`flatten(): end axis ${e} comes before start axis ${s}`, a.span);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p.mul(d), Dim.of(1));
  const shape = [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)];
  const labels = [...x.labels.slice(0, s), undefined, ...x.labels.slice(e + 1)];
  return T(ops.reshape(a.el.ctx, site(a), x, shape, labels));
});

def('expand', ['x', 'shape'], (a) => {
  const x = requireTensor(a, 'x');
  const shape = a.shape('shape', false) as Dim[];
  return x ? T(ops.expand(a.el.ctx, site(a), x, shape)) : UNKNOWN;
});

def('pad', ['x', 'widths?', 'mode?', 'value?'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const mode = a.str('mode', 'constant');
  if (mode !== 'constant' && mode !== 'replicate' && mode !== undefined) {
    throw error(`pad(): mode "${mode}" is not supported`, a.spanOf('mode'), { help: 'use "constant" or "replicate"' });
  }
  const value = a.float('value', 0) ?? 0;
  const zero = Dim.of(0);
  const pads: [Dim, Dim][] = x.shape.map(() => [zero, zero]);
  const pair = (v: Value, span: Span, what: string): [Dim, Dim] => {
    if ((v.kind === 'tuple' || v.kind === 'list') && v.items.length === 2) {
      return [a.el.expectInt(v.items[0], span, `${what} (before)`), a.el.expectInt(v.items[1], span, `${what} (after)`)];
    }
    if (v.kind === 'int') return [v.dim, v.dim];
    throw error(`pad(): ${what} must be (before, after) or one int for both sides, got ${describeValue(v)}`, span);
  };
  if (a.has('widths')) {
    const w = a.value('widths')!;
    if ((w.kind !== 'list' && w.kind !== 'tuple') || w.items.length !== x.shape.length) {
      throw error(`pad(): widths must list one (before, after) per axis of ${typeToString(x)} (${x.shape.length} axes)`, a.spanOf('widths'), { help: 'or name the axes to pad: pad(x, T: (2, 0), H: (1, 1))' });
    }
    w.items.forEach((it, i) => { pads[i] = pair(it, a.spanOf('widths'), `the width of axis ${i}`); });
  }
  for (const kw of a.extra) {
    const i = x.labels.indexOf(kw.name!);
    if (i < 0) {
      const named = x.labels.filter(Boolean);
      throw error(`pad(): ${typeToString(x)} has no axis named '${kw.name}'`, kw.nameSpan ?? kw.span, { help: named.length ? `its named axes are ${named.join(', ')}` : 'pass widths: [(before, after), ...] for every axis' });
    }
    pads[i] = pair(a.evalArg(kw), kw.span, `the width of axis ${kw.name}`);
  }
  return T(ops.pad(a.el.ctx, site(a), x, pads, mode ?? 'constant', value));
}, true);

function tensorList(a: Args, name: string): TensorValue[] | undefined {
  const v = a.value(name)!;
  if (v.kind === 'unknown' || v.kind === 'symlist') return undefined;
  if (v.kind !== 'list' && v.kind !== 'tuple') throw error(`${a.fn}(): '${name}' must be a list of tensors, got ${describeValue(v)}`, a.spanOf(name));
  const out: TensorValue[] = [];
  for (const it of v.items) {
    if (it.kind === 'unknown') return undefined;
    if (it.kind !== 'tensor') throw error(`${a.fn}(): every item of '${name}' must be a tensor, got ${describeValue(it)}`, a.spanOf(name));
    out.push(it.t);
  }
  return out;
}

function axisArg(a: Args, name: string, x: TensorValue, fallback: number): number {
  return a.has(name) ? a.axisOf(a.arg(name)!.value, x) : fallback < 0 ? fallback + x.shape.length : fallback;
}

def('concat', ['xs', 'axis?'], (a) => {
  const xs = tensorList(a, 'xs');
  if (!xs || xs.length === 0) {
    if (xs) throw error('concat(): nothing to concatenate', a.span);
    return UNKNOWN;
  }
  return T(ops.concat(a.el.ctx, site(a), xs, axisArg(a, 'axis', xs[0], 0)));
});

def('stack', ['xs', 'axis?'], (a) => {
  const xs = tensorList(a, 'xs');
  if (!xs || xs.length === 0) return UNKNOWN;
  const n = a.knownInt('axis', 0);
  const r = xs[0].shape.length + 1;
  const ax = n < 0 ? n + r : n;
  const lifted = xs.map((x) => {
    const shape = [...x.shape];
    shape.splice(ax, 0, Dim.of(1));
    return ops.reshape(a.el.ctx, site(a), x, shape);
  });
  return T(ops.concat(a.el.ctx, site(a), lifted, ax));
});

def('split', ['x', 'sizes', 'axis?'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const ax = axisArg(a, 'axis', x, 0);
  const sv = a.value('sizes')!;
  let sizes: Dim[];
  if (sv.kind === 'int') {
    const n = sv.dim;
    const each = x.shape[ax].floorDiv(n);
    a.el.ctx.requireEqual(each.mul(n), x.shape[ax], a.span, () => ({ message: `split(): axis ${ax} of ${typeToString(x)} (${x.shape[ax]}) does not split into ${n} equal parts`, help: 'give the part sizes as a list instead' }));
    const count = n.value;
    if (count === undefined) return UNKNOWN;
    sizes = Array.from({ length: count }, () => each);
  } else {
    sizes = a.toIntList(sv, a.spanOf('sizes'), 'sizes');
    const total = sizes.reduce((p, d) => p.add(d), Dim.of(0));
    a.el.ctx.requireEqual(total, x.shape[ax], a.span, () => ({ message: `split(): the sizes add up to ${total} but axis ${ax} of ${typeToString(x)} is ${x.shape[ax]}`, help: 'the part sizes must add up to the axis size' }));
  }
  let start = Dim.of(0);
  const parts: Value[] = sizes.map((sz) => {
    const specs = x.shape.map((d, i) => (i === ax ? { start, count: sz, step: 1 } : { start: Dim.of(0), count: d, step: 1 }));
    start = start.add(sz);
    return T(ops.slice(a.el.ctx, site(a), x, specs));
  });
  return { kind: 'tuple', items: parts };
});

def('chunk', ['x', 'n', 'axis?'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const ax = axisArg(a, 'axis', x, 0);
  const n = a.knownInt('n');
  const each = x.shape[ax].floorDiv(n);
  a.el.ctx.requireEqual(each.mul(n), x.shape[ax], a.span, () => ({ message: `chunk(): axis ${ax} of ${typeToString(x)} (${x.shape[ax]}) is not divisible into ${n} chunks` }));
  const parts: Value[] = [];
  for (let k = 0; k < n; k++) {
    const specs = x.shape.map((d, i) => (i === ax ? { start: each.mul(k), count: each, step: 1 } : { start: Dim.of(0), count: d, step: 1 }));
    parts.push(T(ops.slice(a.el.ctx, site(a), x, specs)));
  }
  return { kind: 'tuple', items: parts };
});

def('rearrange', ['x', 'pattern'], (a) => {
  const x = requireTensor(a, 'x');
  const pattern = a.str('pattern');
  if (!x) return UNKNOWN;
  if (pattern === undefined) throw error('rearrange(): the pattern must be a known string', a.spanOf('pattern'));
  const sizes = new Map<string, Dim>();
  for (const kw of a.extra) sizes.set(kw.name!, a.el.expectInt(a.evalArg(kw), kw.span, `rearrange(): the size of '${kw.name}'`));
  return T(rearrange(a.el.ctx, a.span, x, pattern, sizes));
}, true);

def('upsample_nearest', ['x', 'scale'], (a) => {
  const x = requireTensor(a, 'x');
  if (!x) return UNKNOWN;
  const scale = a.intList('scale')!;
  if (scale.length > x.shape.length) throw error(`upsample_nearest(): ${scale.length} scale factors for ${typeToString(x)}`, a.spanOf('scale'), { help: 'the factors apply to the trailing axes' });
  const factors = [...new Array<Dim>(x.shape.length - scale.length).fill(Dim.of(1)), ...scale];
  return T(ops.repeatNearest(a.el.ctx, site(a), x, factors));
});

def('take', ['table', 'ids'], (a) => {
  const t = requireTensor(a, 'table');
  const i = requireTensor(a, 'ids');
  return t && i ? T(ops.take(a.el.ctx, site(a), t, i)) : UNKNOWN;
});

// ------------------------------------------------------------------ contractions

def('matmul', ['a', 'b'], (a) => {
  const x = requireTensor(a, 'a');
  const y = requireTensor(a, 'b');
  return x && y ? T(ops.matmul(a.el.ctx, site(a), x, y)) : UNKNOWN;
});

def('conv', ['x', 'weight', 'stride?', 'padding?'], (a) => {
  const x = requireTensor(a, 'x');
  const w = requireTensor(a, 'weight');
  if (!x || !w) return UNKNOWN;
  const nd = w.shape.length - 2;
  let stride = a.intList('stride') ?? [Dim.of(1)];
  if (stride.length === 1 && nd > 1) stride = new Array<Dim>(nd).fill(stride[0]);
  let input = x;
  if (a.has('padding')) {
    let p = a.intList('padding')!;
    if (p.length === 1 && nd > 1) p = new Array<Dim>(nd).fill(p[0]);
    if (p.length !== nd) throw error(`conv(): ${p.length} paddings for ${nd} spatial axes`, a.spanOf('padding'));
    const zero = Dim.of(0);
    input = ops.pad(a.el.ctx, site(a), x, [[zero, zero], [zero, zero], ...p.map((d) => [d, d] as [Dim, Dim])], 'constant', 0);
  }
  return T(ops.conv(a.el.ctx, site(a), input, w, stride));
});

// ------------------------------------------------------------------ creation

function shapeArg(a: Args): Dim[] {
  return a.shape('shape', false) as Dim[];
}

def('zeros', ['shape', 'dtype?'], (a) => T(ops.full(a.el.ctx, site(a), shapeArg(a), 0, a.dtype('dtype', 'f32'))));
def('ones', ['shape', 'dtype?'], (a) => T(ops.full(a.el.ctx, site(a), shapeArg(a), 1, a.dtype('dtype', 'f32'))));
def('full', ['shape', 'value', 'dtype?'], (a) => {
  const v = a.value('value')!;
  const dtype = a.dtype('dtype', v.kind === 'int' ? 'i32' : v.kind === 'bool' ? 'bool' : 'f32');
  const n = v.kind === 'int' ? v.dim.value : v.kind === 'float' ? v.value : v.kind === 'bool' ? (v.value === undefined ? undefined : Number(v.value)) : undefined;
  return T(ops.full(a.el.ctx, site(a), shapeArg(a), n, dtype));
});
def('iota', ['shape', 'axis'], (a) => T(ops.iota(a.el.ctx, site(a), shapeArg(a), a.knownInt('axis'))));
def('arange', ['n'], (a) => T(ops.iota(a.el.ctx, site(a), [a.int('n')], 0)));
def('randn', ['shape', 'seed', 'dtype?'], (a) => T(ops.random(a.el.ctx, site(a), shapeArg(a), 'normal', a.knownInt('seed'), a.dtype('dtype', 'f32'))));
def('rand', ['shape', 'seed', 'dtype?'], (a) => T(ops.random(a.el.ctx, site(a), shapeArg(a), 'uniform', a.knownInt('seed'), a.dtype('dtype', 'f32'))));

// ------------------------------------------------------------------ config values

def('len', ['xs'], (a) => {
  const v = a.value('xs')!;
  if (v.kind === 'list' || v.kind === 'tuple') return intValue(v.items.length);
  if (v.kind === 'symlist') return intValue(v.length);
  if (v.kind === 'range') return intValue(v.end.sub(v.start));
  if (v.kind === 'str' && v.value !== undefined) return intValue(v.value.length);
  if (v.kind === 'unknown') return intValue(a.el.ctx.freshDim());
  throw error(`len() needs a list, got ${describeValue(v)}`, a.spanOf('xs'));
});

def('range', ['a', 'b?'], (a) => {
  if (!a.has('b')) return { kind: 'range', start: Dim.of(0), end: a.int('a') };
  return { kind: 'range', start: a.int('a'), end: a.int('b') };
});

def('shape', ['x'], (a) => {
  const x = requireTensor(a, 'x');
  return x ? { kind: 'list', items: x.shape.map((d) => intValue(d)) } : UNKNOWN;
});

def('numel', ['x'], (a) => {
  const x = requireTensor(a, 'x');
  return x ? intValue(x.shape.reduce((p, d) => p.mul(d), Dim.of(1))) : UNKNOWN;
});

def('int', ['v'], (a) => {
  const v = a.value('v')!;
  if (v.kind === 'int') return v;
  if (v.kind === 'float') return v.value === undefined ? intValue(a.el.ctx.freshDim()) : intValue(Math.trunc(v.value));
  if (v.kind === 'bool') return v.value === undefined ? intValue(a.el.ctx.freshDim()) : intValue(Number(v.value));
  throw error(`int() needs a number, got ${describeValue(v)}`, a.spanOf('v'));
});

def('float', ['v'], (a) => {
  const v = a.value('v')!;
  if (v.kind === 'float') return v;
  if (v.kind === 'int') return floatValue(v.dim.value);
  throw error(`float() needs a number, got ${describeValue(v)}`, a.spanOf('v'));
});

def('log2', ['v'], (a) => {
  const v = a.value('v')!;
  if (v.kind === 'int') {
    const n = v.dim.value;
    if (n === undefined) return intValue(a.el.ctx.freshDim());
    const l = Math.log2(n);
    if (!Number.isInteger(l)) throw error(`log2(${n}) is not an integer`, a.span, { help: 'the value must be a power of two' });
    return intValue(l);
  }
  const x = a.float('v');
  return floatValue(x === undefined ? undefined : Math.log2(x));
});
