/**
 * Typed tensor operations: each computes the result type from the operand types (proving what
 * it can about symbolic dims, leaving the rest as obligations) and, when tracing, emits the
 * primitive ops to the backend. Every error names the operation, the shapes involved, the axis,
 * what failed, and how to fix it; the span is the source expression.
 *
 * Broadcasting is numpy's, made explicit: shapes align on the right, and an axis broadcasts
 * only where its size is literally 1. Two symbolic sizes must be equal (not "maybe 1").
 */
import type { DTypeName } from './ast.ts';
import type { BackendBinary, BackendUnary } from './backend.ts';
import { Dim, shapeToString, type Shape } from './dims.ts';
import { error } from './diagnostics.ts';
import { concrete, type Ctx } from './elaborate/context.ts';
import type { Span } from './source.ts';
import { typeToString, type TensorValue } from './values.ts';

export interface Site {
  readonly span: Span;
  /** The operation as the user wrote it: `+`, `conv`, `reshape`... */
  readonly op: string;
}

type Labels = readonly (string | undefined)[];

const ONE = Dim.of(1);
const isFloatDtype = (d: DTypeName) => d === 'f32' || d === 'f16';

export function tensor(t: { dtype: DTypeName; shape: Shape; labels?: Labels }, handle: unknown): TensorValue {
  return { dtype: t.dtype, shape: t.shape, labels: t.labels ?? t.shape.map(() => undefined), handle };
}

function dims(ctx: Ctx, shape: Shape, span: Span, what: string): number[] {
  return shape.map((d, i) => concrete(d, span, `${what} axis ${i}`));
}

function normAxis(ctx: Ctx, site: Site, x: TensorValue, axis: number): number {
  const r = x.shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) {
    throw error(`${site.op}: axis ${axis} is out of range for ${typeToString(x)} (rank ${r})`, site.span, {
      help: `axes go from 0 to ${r - 1} (or -${r} to -1 counting from the end)`,
    });
  }
  return a;
}

export function checkAxis(ctx: Ctx, site: Site, x: TensorValue, axis: number): number {
  return normAxis(ctx, site, x, axis);
}

// ------------------------------------------------------------------ broadcasting

export function broadcastShapes(ctx: Ctx, site: Site, xs: readonly TensorValue[]): { shape: Dim[]; labels: (string | undefined)[] } {
  const rank = Math.max(...xs.map((x) => x.shape.length));
  const shape: Dim[] = [];
  const labels: (string | undefined)[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim | undefined;
    let label: string | undefined;
    let from: TensorValue | undefined;
    for (const x of xs) {
      const k = i - (rank - x.shape.length);
      if (k < 0) continue;
      const xd = x.shape[k];
      label ??= x.labels[k];
      if (d === undefined || d.equals(ONE)) {
        if (d === undefined || !xd.equals(ONE)) { d = xd; from = x; }
        continue;
      }
      if (xd.equals(ONE)) continue;
      const prev = d;
      const prevFrom = from!;
      ctx.requireEqual(prev, xd, site.span, () => ({
        message: `shapes do not broadcast in '${site.op}': ${typeToString(prevFrom)} and ${typeToString(x)} differ on axis ${xs.every((y) => y.shape.length === rank) ? i : i - rank} (${prev} vs ${xd})`,
        help: 'make the sizes equal, or make one of them 1 to broadcast it (e.g. with reshape or unsqueeze)',
      }));
    }
    shape.push(d!);
    labels.push(label);
  }
  return { shape, labels };
}

/** Reshape/expand x to `shape` (trace) — x is known to broadcast to it. */
export function broadcastTo(ctx: Ctx, site: Site, x: TensorValue, shape: Shape, labels?: Labels): TensorValue {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d.equals(shape[i]))) return x;
  const lead = shape.length - x.shape.length;
  const handle = ctx.emit(site.op, site.span, (b) => {
    const target = dims(ctx, shape, site.span, 'broadcast');
    const src = [...new Array<number>(lead).fill(1), ...dims(ctx, x.shape, site.span, 'operand')];
    const r = b.reshape(x.handle, src);
    return b.expand(r, target);
  });
  return tensor({ dtype: x.dtype, shape, labels: labels ?? [...new Array(lead).fill(undefined), ...x.labels] }, handle);
}

export function scalarTensor(ctx: Ctx, site: Site, value: number | undefined, dtype: DTypeName): TensorValue {
  const handle = ctx.emit(site.op, site.span, (b) => b.const(value ?? 0, [], dtype));
  return tensor({ dtype, shape: [] }, handle);
}

// ------------------------------------------------------------------ elementwise

const LOGICAL = new Set<BackendBinary>(['and', 'or']);
const COMPARE = new Set<BackendBinary>(['lt', 'le', 'gt', 'ge', 'eq', 'ne']);

export function binary(ctx: Ctx, site: Site, fn: BackendBinary, a: TensorValue, b: TensorValue): TensorValue {
  if (a.dtype !== b.dtype) {
    throw error(`'${site.op}' needs operands of one dtype, got ${typeToString(a)} and ${typeToString(b)}`, site.span, {
      help: `convert one side explicitly, e.g. cast(x, ${a.dtype})`,
    });
  }
  if (LOGICAL.has(fn) && a.dtype !== 'bool') {
    throw error(`'${site.op}' needs bool tensors, got ${typeToString(a)}`, site.span, { help: 'compare first (e.g. x > 0) to get a bool tensor' });
  }
  if (!LOGICAL.has(fn) && a.dtype === 'bool') {
    throw error(`'${site.op}' is not defined on bool tensors`, site.span, { help: 'use and/or/not on bools, or cast(x, f32) to do arithmetic' });
  }
  if (fn === 'pow' && !isFloatDtype(a.dtype)) {
    throw error(`'**' needs float tensors, got ${typeToString(a)}`, site.span, { help: 'cast(x, f32) first' });
  }
  const { shape, labels } = broadcastShapes(ctx, site, [a, b]);
  const A = broadcastTo(ctx, site, a, shape, labels);
  const B = broadcastTo(ctx, site, b, shape, labels);
  const handle = ctx.emit(site.op, site.span, (be) => be.binary(fn, A.handle, B.handle));
  return tensor({ dtype: COMPARE.has(fn) ? 'bool' : a.dtype, shape, labels }, handle);
}

export function unary(ctx: Ctx, site: Site, fn: BackendUnary, x: TensorValue): TensorValue {
  if (fn === 'not') {
    if (x.dtype !== 'bool') throw error(`'not' needs a bool tensor, got ${typeToString(x)}`, site.span);
  } else if (x.dtype === 'bool') {
    throw error(`'${site.op}' is not defined on bool tensors`, site.span, { help: 'cast(x, f32) first' });
  } else if (x.dtype === 'i32' && fn !== 'neg' && fn !== 'abs') {
    throw error(`'${site.op}' needs a float tensor, got ${typeToString(x)}`, site.span, { help: 'cast(x, f32) first' });
  }
  const handle = ctx.emit(site.op, site.span, (b) => b.unary(fn, x.handle));
  return tensor(x, handle);
}

export function where(ctx: Ctx, site: Site, cond: TensorValue, a: TensorValue, b: TensorValue): TensorValue {
  if (cond.dtype !== 'bool') throw error(`where: the condition must be a bool tensor, got ${typeToString(cond)}`, site.span, { help: 'compare to get a bool tensor, e.g. where(x > 0, x, 0.0)' });
  if (a.dtype !== b.dtype) throw error(`where: both branches need one dtype, got ${typeToString(a)} and ${typeToString(b)}`, site.span, { help: 'cast one branch' });
  const { shape, labels } = broadcastShapes(ctx, site, [cond, a, b]);
  const C = broadcastTo(ctx, site, cond, shape, labels);
  const A = broadcastTo(ctx, site, a, shape, labels);
  const B = broadcastTo(ctx, site, b, shape, labels);
  const handle = ctx.emit(site.op, site.span, (be) => be.where(C.handle, A.handle, B.handle));
  return tensor({ dtype: a.dtype, shape, labels }, handle);
}

export function cast(ctx: Ctx, site: Site, x: TensorValue, dtype: DTypeName): TensorValue {
  if (x.dtype === dtype) return x;
  const handle = ctx.emit(site.op, site.span, (b) => b.cast(x.handle, dtype));
  return tensor({ ...x, dtype }, handle);
}

// ------------------------------------------------------------------ reductions

export function reduce(ctx: Ctx, site: Site, fn: 'sum' | 'max', x: TensorValue, axes: readonly number[], keepdim: boolean): TensorValue {
  if (x.dtype === 'bool') throw error(`${site.op}: cannot reduce a bool tensor`, site.span, { help: 'cast(x, f32) or cast(x, i32) first' });
  const norm = [...new Set(axes.map((a) => normAxis(ctx, site, x, a)))].sort((p, q) => p - q);
  const kept = x.shape.map((d, i) => (norm.includes(i) ? ONE : d));
  let handle = ctx.emit(site.op, site.span, (b) => b.reduce(fn, x.handle, norm));
  const labels = x.labels.map((l, i) => (norm.includes(i) ? undefined : l));
  if (keepdim) return tensor({ dtype: x.dtype, shape: kept, labels }, handle);
  const shape = x.shape.filter((_, i) => !norm.includes(i));
  handle = ctx.emit(site.op, site.span, (b) => b.reshape(handle, dims(ctx, shape, site.span, 'result')));
  return tensor({ dtype: x.dtype, shape, labels: labels.filter((_, i) => !norm.includes(i)) }, handle);
}

// ------------------------------------------------------------------ views

function product(shape: Shape): Dim {
  return shape.reduce((a, d) => a.mul(d), ONE);
}

export function reshape(ctx: Ctx, site: Site, x: TensorValue, target: readonly (Dim | 'infer')[], labels?: Labels): TensorValue {
  const inferAt = target.indexOf('infer');
  if (target.lastIndexOf('infer') !== inferAt) throw error(`${site.op}: at most one size can be inferred (-1)`, site.span);
  const total = product(x.shape);
  let shape: Dim[];
  if (inferAt >= 0) {
    const known = product(target.filter((d): d is Dim => d !== 'infer'));
    const inferred = total.floorDiv(known);
    ctx.requireEqual(inferred.mul(known), total, site.span, () => ({
      message: `${site.op}: cannot infer the size -1 of [${target.map(String).join(', ')}] from ${typeToString(x)}: ${total} elements are not a multiple of ${known}`,
      help: 'check the other sizes of the new shape',
    }));
    shape = target.map((d) => (d === 'infer' ? inferred : d));
  } else {
    shape = target as Dim[];
    ctx.requireEqual(product(shape), total, site.span, () => ({
      message: `${site.op}: ${typeToString(x)} has ${total} elements but the new shape ${shapeToString(shape)} has ${product(shape)}`,
      help: 'a reshape keeps the number of elements; check the sizes (or use -1 for one inferred size)',
    }));
  }
  for (const [i, d] of shape.entries()) {
    const v = d.value;
    if (v !== undefined && v < 0) throw error(`${site.op}: size ${v} on axis ${i} is negative`, site.span);
  }
  const handle = ctx.emit(site.op, site.span, (b) => b.reshape(x.handle, dims(ctx, shape, site.span, 'result')));
  return tensor({ dtype: x.dtype, shape, labels: labels ?? shape.map(() => undefined) }, handle);
}

export function permute(ctx: Ctx, site: Site, x: TensorValue, perm: readonly number[]): TensorValue {
  const r = x.shape.length;
  const norm = perm.map((p) => normAxis(ctx, site, x, p));
  if (norm.length !== r || new Set(norm).size !== r) {
    throw error(`${site.op}: [${perm.join(', ')}] is not a permutation of the ${r} axes of ${typeToString(x)}`, site.span, {
      help: `list every axis 0..${r - 1} exactly once`,
    });
  }
  const handle = ctx.emit(site.op, site.span, (b) => b.permute(x.handle, norm));
  return tensor({ dtype: x.dtype, shape: norm.map((p) => x.shape[p]), labels: norm.map((p) => x.labels[p]) }, handle);
}

export function expand(ctx: Ctx, site: Site, x: TensorValue, shape: Shape): TensorValue {
  if (shape.length < x.shape.length) {
    throw error(`${site.op}: cannot expand ${typeToString(x)} to the lower rank ${shapeToString(shape)}`, site.span);
  }
  const lead = shape.length - x.shape.length;
  x.shape.forEach((d, i) => {
    if (d.equals(ONE)) return;
    ctx.requireEqual(d, shape[lead + i], site.span, () => ({
      message: `${site.op}: axis ${i} of ${typeToString(x)} has size ${d} and cannot be expanded to ${shape[lead + i]}`,
      help: 'only axes of size 1 can be expanded',
    }));
  });
  return broadcastTo(ctx, site, x, shape);
}

export interface SliceSpec {
  readonly start: Dim;
  readonly count: Dim;
  readonly step: number;
}

/** Per-axis slices already normalised (start >= 0, count >= 0). */
export function slice(ctx: Ctx, site: Site, x: TensorValue, specs: readonly SliceSpec[]): TensorValue {
  const shape = specs.map((s) => s.count);
  const handle = ctx.emit(site.op, site.span, (b) => b.slice(
    x.handle,
    specs.map((s, i) => concrete(s.start, site.span, `slice start on axis ${i}`)),
    specs.map((s, i) => concrete(s.count, site.span, `slice size on axis ${i}`)),
    specs.map((s) => s.step),
  ));
  const labels = x.labels.map((l, i) => (specs[i].count.equals(x.shape[i]) ? l : undefined));
  return tensor({ dtype: x.dtype, shape, labels }, handle);
}

export function pad(ctx: Ctx, site: Site, x: TensorValue, pads: readonly (readonly [Dim, Dim])[], mode: 'constant' | 'replicate', value: number): TensorValue {
  pads.forEach(([lo, hi], i) => {
    for (const [w, side] of [[lo, 'before'], [hi, 'after']] as const) {
      const v = w.value;
      if (v !== undefined && v < 0) throw error(`${site.op}: padding ${side} axis ${i} is ${v}; it must be >= 0`, site.span, { help: 'use slicing to remove elements' });
    }
  });
  const shape = x.shape.map((d, i) => d.add(pads[i][0]).add(pads[i][1]));
  const handle = ctx.emit(site.op, site.span, (b) => b.pad(
    x.handle,
    pads.map(([lo, hi], i) => [concrete(lo, site.span, `pad on axis ${i}`), concrete(hi, site.span, `pad on axis ${i}`)] as const),
    mode,
    value,
  ));
  const labels = x.labels.map((l, i) => (pads[i][0].isConst && pads[i][0].value === 0 && pads[i][1].value === 0 ? l : undefined));
  return tensor({ dtype: x.dtype, shape, labels }, handle);
}

export function concat(ctx: Ctx, site: Site, xs: readonly TensorValue[], axis: number): TensorValue {
  if (xs.length === 0) throw error(`${site.op}: nothing to concatenate`, site.span, { help: 'pass a non-empty list of tensors' });
  const first = xs[0];
  const a = normAxis(ctx, site, first, axis);
  for (const [k, x] of xs.entries()) {
    if (x.shape.length !== first.shape.length) {
      throw error(`${site.op}: tensor ${k} is ${typeToString(x)} but tensor 0 is ${typeToString(first)}; ranks differ`, site.span, { help: 'all tensors must have the same rank' });
    }
    if (x.dtype !== first.dtype) throw error(`${site.op}: tensor ${k} is ${x.dtype} but tensor 0 is ${first.dtype}`, site.span, { help: 'cast them to one dtype' });
    x.shape.forEach((d, i) => {
      if (i === a) return;
      ctx.requireEqual(d, first.shape[i], site.span, () => ({
        message: `${site.op} along axis ${a}: tensor ${k} ${typeToString(x)} and tensor 0 ${typeToString(first)} differ on axis ${i} (${d} vs ${first.shape[i]})`,
        help: 'every axis other than the concatenation axis must match',
      }));
    });
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, x) => s.add(x.shape[a]), Dim.of(0));
  const handle = ctx.emit(site.op, site.span, (b) => b.concat(xs.map((x) => x.handle), a));
  const labels = first.labels.map((l, i) => (i === a ? undefined : l));
  return tensor({ dtype: first.dtype, shape, labels }, handle);
}

export function repeatNearest(ctx: Ctx, site: Site, x: TensorValue, factors: readonly Dim[]): TensorValue {
  if (factors.length !== x.shape.length) throw error(`internal: repeat factors`, site.span);
  for (const f of factors) {
    const v = f.value;
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw error(`${site.op}: scale factor ${v} must be an integer >= 1`, site.span, { help: 'nearest upsampling repeats each element an integer number of times' });
  }
  const shape = x.shape.map((d, i) => d.mul(factors[i]));
  const handle = ctx.emit(site.op, site.span, (b) => b.repeat(x.handle, factors.map((f, i) => concrete(f, site.span, `scale factor ${i}`))));
  return tensor({ dtype: x.dtype, shape, labels: x.labels.map((l, i) => (factors[i].value === 1 ? l : undefined)) }, handle);
}

/** Rows of `table` picked by i32 `ids` (an embedding lookup): ids [...I], table [V, ...R] -> [...I, ...R]. */
export function take(ctx: Ctx, site: Site, table: TensorValue, ids: TensorValue): TensorValue {
  if (table.shape.length < 1) throw error(`${site.op}: the table ${typeToString(table)} needs an axis of rows to pick from`, site.span, { help: 'take(table, ids) picks table[ids[i]] for every id' });
  if (ids.dtype !== 'i32') throw error(`${site.op}: ids must be i32, got ${typeToString(ids)}`, site.span, { help: 'pass token ids as an i32 tensor, or cast(ids, i32)' });
  const handle = ctx.emit(site.op, site.span, (b) => b.gather(table.handle, ids.handle));
  return tensor({ dtype: table.dtype, shape: [...ids.shape, ...table.shape.slice(1)], labels: [...ids.labels, ...table.labels.slice(1)] }, handle);
}

// ------------------------------------------------------------------ contractions

export function matmul(ctx: Ctx, site: Site, a: TensorValue, b: TensorValue): TensorValue {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw error(`${site.op}: both operands need at least 2 axes, got ${typeToString(a)} and ${typeToString(b)}`, site.span, { help: 'use unsqueeze to add an axis to a vector' });
  }
  if (a.dtype !== b.dtype || !isFloatDtype(a.dtype)) {
    throw error(`${site.op}: operands must share a float dtype, got ${typeToString(a)} and ${typeToString(b)}`, site.span, { help: 'cast them to f32' });
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const k1 = a.shape[ra - 1];
  const k2 = b.shape[rb - 2];
  ctx.requireEqual(k1, k2, site.span, () => ({
    message: `${site.op}: ${typeToString(a)} @ ${typeToString(b)}: the contracted axes differ (${k1} vs ${k2})`,
    help: 'the last axis of the left operand must equal the second-to-last axis of the right one (transpose one of them?)',
  }));
  const batchA = tensor({ dtype: a.dtype, shape: a.shape.slice(0, -2), labels: a.labels.slice(0, -2) }, undefined);
  const batchB = tensor({ dtype: b.dtype, shape: b.shape.slice(0, -2), labels: b.labels.slice(0, -2) }, undefined);
  const batch = broadcastShapes(ctx, site, [batchA, batchB]);
  const A = broadcastTo(ctx, site, a, [...batch.shape, ...a.shape.slice(-2)]);
  const B = broadcastTo(ctx, site, b, [...batch.shape, ...b.shape.slice(-2)]);
  const handle = ctx.emit(site.op, site.span, (be) => be.matmul(A.handle, B.handle));
  return tensor({
    dtype: a.dtype,
    shape: [...batch.shape, a.shape[ra - 2], b.shape[rb - 1]],
    labels: [...batch.labels, a.labels[ra - 2], b.labels[rb - 1]],
  }, handle);
}

export function conv(ctx: Ctx, site: Site, x: TensorValue, w: TensorValue, stride: readonly Dim[]): TensorValue {
  const nd = w.shape.length - 2;
  if (nd < 1) throw error(`${site.op}: the weight ${typeToString(w)} needs shape [out, in, ...kernel]`, site.span);
  if (x.shape.length !== nd + 2) {
    throw error(`${site.op}: a ${nd}-d convolution needs input [batch, channels, ${nd} spatial axes], got ${typeToString(x)} for weight ${typeToString(w)}`, site.span, {
      help: `the input must have rank ${nd + 2}`,
    });
  }
  if (x.dtype !== w.dtype || !isFloatDtype(x.dtype)) throw error(`${site.op}: input and weight must share a float dtype, got ${typeToString(x)} and ${typeToString(w)}`, site.span);
  if (stride.length !== nd) throw error(`${site.op}: ${stride.length} strides for ${nd} spatial axes`, site.span, { help: `give one stride per spatial axis, e.g. [${new Array(nd).fill(1).join(', ')}]` });
  for (const s of stride) {
    const v = s.value;
    if (v !== undefined && v < 1) throw error(`${site.op}: stride ${v} must be an integer >= 1`, site.span);
  }
  ctx.requireEqual(x.shape[1], w.shape[1], site.span, () => ({
    message: `${site.op}: input ${typeToString(x)} has ${x.shape[1]} channels on axis 1 but weight ${typeToString(w)} expects ${w.shape[1]}`,
    help: 'the weight is [out_channels, in_channels, ...kernel]; check the module config',
  }));
  const spatial = x.shape.slice(2).map((s, i) => {
    const k = w.shape[2 + i];
    const sv = s.value;
    const kv = k.value;
    if (sv !== undefined && kv !== undefined && sv < kv) {
      throw error(`${site.op}: spatial axis ${i + 2} of ${typeToString(x)} has size ${sv}, smaller than the kernel size ${kv}`, site.span, {
        help: 'pad the input first (e.g. pad(x, ..., mode: "replicate"))',
      });
    }
    return s.sub(k).floorDiv(stride[i]).add(1);
  });
  const handle = ctx.emit(site.op, site.span, (b) => b.conv(x.handle, w.handle, stride.map((s, i) => concrete(s, site.span, `stride ${i}`))));
  return tensor({ dtype: x.dtype, shape: [x.shape[0], w.shape[0], ...spatial], labels: [x.labels[0], undefined, ...spatial.map(() => undefined)] }, handle);
}

// ------------------------------------------------------------------ creation

export function full(ctx: Ctx, site: Site, shape: Shape, value: number | undefined, dtype: DTypeName): TensorValue {
  const handle = ctx.emit(site.op, site.span, (b) => b.const(value ?? 0, dims(ctx, shape, site.span, 'shape'), dtype));
  return tensor({ dtype, shape }, handle);
}

export function iota(ctx: Ctx, site: Site, shape: Shape, axis: number): TensorValue {
  const t = tensor({ dtype: 'i32', shape }, undefined);
  const a = normAxis(ctx, site, t, axis);
  const handle = ctx.emit(site.op, site.span, (b) => b.iota(dims(ctx, shape, site.span, 'shape'), a));
  return tensor({ dtype: 'i32', shape }, handle);
}

export function random(ctx: Ctx, site: Site, shape: Shape, dist: 'normal' | 'uniform', seed: number, dtype: DTypeName): TensorValue {
  if (!isFloatDtype(dtype)) throw error(`${site.op}: random tensors are floats, not ${dtype}`, site.span);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw error(`${site.op}: seed ${seed} must be an integer in [0, 2^32)`, site.span);
  const handle = ctx.emit(site.op, site.span, (b) => b.random(dims(ctx, shape, site.span, 'shape'), dist, seed, dtype));
  return tensor({ dtype, shape }, handle);
}
