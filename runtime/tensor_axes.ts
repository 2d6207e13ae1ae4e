/**
 * Host tensors along one axis: a range of an axis and tensors joined along an axis (copies),
 * a part along the first axis (a view). The dtype and its storage are kept (elements are copied
 * in runs, never converted). Used where tensors cross between devices on the host (sequence
 * parallelism, models/hunyuan_dit).
 */
import { elementCount, type HostData, type HostTensor } from './tensor.ts';

function allocate(like: HostData, n: number): HostData {
  return new (like.constructor as new (n: number) => HostData)(n);
}

function checkAxis(shape: readonly number[], axis: number, what: string): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new RangeError(`${what}: axis ${axis} is not an axis of [${shape.join(', ')}]`);
}

/** Elements before `axis` (outer) and after it (inner), for [outer, shape[axis], inner] views. */
const around = (shape: readonly number[], axis: number): [number, number] => [elementCount(shape.slice(0, axis)), elementCount(shape.slice(axis + 1))];

/** `t` restricted to [start, end) along `axis` (a copy). */
export function sliceAxis(t: HostTensor, axis: number, start: number, end: number): HostTensor {
  checkAxis(t.shape, axis, 'sliceAxis');
  const size = t.shape[axis];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= size)) {
    throw new RangeError(`sliceAxis: [${start}, ${end}) is not a range of axis ${axis} (size ${size}) of [${t.shape.join(', ')}]`);
  }
  const [outer, inner] = around(t.shape, axis);
  const run = (end - start) * inner;
  const out = allocate(t.data, outer * run);
  for (let o = 0; o < outer; o++) {
    const from = (o * size + start) * inner;
    (out as Float32Array).set((t.data as Float32Array).subarray(from, from + run), o * run);
  }
  const shape = [...t.shape];
  shape[axis] = end - start;
  return { dtype: t.dtype, shape, data: out };
}

/** The tensors joined along `axis`; all other dims and the dtype must agree. */
export function concatAxis(parts: readonly HostTensor[], axis: number): HostTensor {
  if (parts.length === 0) throw new RangeError('concatAxis: no tensors to join');
  const first = parts[0];
  checkAxis(first.shape, axis, 'concatAxis');
  for (const p of parts) {
    const same = p.dtype === first.dtype && p.shape.length === first.shape.length && p.shape.every((d, i) => i === axis || d === first.shape[i]);
    if (!same) throw new RangeError(`concatAxis: ${p.dtype}[${p.shape.join(', ')}] cannot join ${first.dtype}[${first.shape.join(', ')}] along axis ${axis}`);
  }
  const [outer, inner] = around(first.shape, axis);
  const total = parts.reduce((n, p) => n + p.shape[axis], 0);
  const out = allocate(first.data, outer * total * inner);
  let offset = 0;
  for (const p of parts) {
    const run = p.shape[axis] * inner;
    for (let o = 0; o < outer; o++) (out as Float32Array).set((p.data as Float32Array).subarray(o * run, (o + 1) * run), o * total * inner + offset);
    offset += run;
  }
  const shape = [...first.shape];
  shape[axis] = total;
  return { dtype: first.dtype, shape, data: out };
}

/** The same elements under another shape of the same size (no copy). */
export function reshapeHost(t: HostTensor, shape: readonly number[]): HostTensor {
  if (elementCount(shape) !== elementCount(t.shape)) throw new RangeError(`reshapeHost: [${t.shape.join(', ')}] has ${elementCount(t.shape)} elements, [${shape.join(', ')}] ${elementCount(shape)}`);
  return { dtype: t.dtype, shape: [...shape], data: t.data };
}

/** Part `i` of a tensor along its first axis: a view, no copy. */
export function partOfHost(t: HostTensor, i: number): HostTensor {
  const n = t.data.length / t.shape[0];
  return { dtype: t.dtype, shape: t.shape.slice(1), data: t.data.subarray(i * n, (i + 1) * n) as HostTensor['data'] };
}
