/**
 * View primitives of the reference interpreter. Every view except reshape and concat is an
 * index map that acts on each axis separately, so it is evaluated as a gather driven by one
 * offset table per output axis:
 *
 *   out[i_0, ..., i_n] = src[table_0[i_0] + ... + table_n[i_n]]
 *
 * where table_k[i] is the source offset (already multiplied by the source stride) that output
 * index i on axis k reads, or FILL (-1) for positions outside the source (constant padding).
 * Tables are built once per node (size = sum of the output dims), so the walk over the output
 * needs no per-element division or modulo.
 *
 * Reshape shares the source array (values are never mutated after they are produced).
 */
import type { ConcatNode, ExpandNode, GatherNode, PadNode, PermuteNode, RepeatNode, SliceNode } from '../ir.ts';
import { numel, stridesOf } from '../ir.ts';

/** Marks an output position that reads no source element (it takes the fill value). */
const FILL = -1;

type OffsetTable = Int32Array;

function table(size: number, offsetOf: (i: number) => number): OffsetTable {
  const t = new Int32Array(size);
  for (let i = 0; i < size; i++) t[i] = offsetOf(i);
  return t;
}

/** Walks the output in row-major order; the last axis is the tight inner loop. */
export function gather(src: Float64Array, outShape: readonly number[], tables: readonly OffsetTable[], fill: number): Float64Array {
  const n = numel(outShape);
  const out = new Float64Array(n);
  if (n === 0) return out;
  const rank = outShape.length;
  if (rank === 0) {
    out[0] = src[0];
    return out;
  }
  const last = tables[rank - 1];
  const len = outShape[rank - 1];
  let lastHasFill = false;
  for (let j = 0; j < len; j++) if (last[j] < 0) lastHasFill = true;
  const outer = rank - 1;
  const idx = new Int32Array(outer);
  const rows = n / len;
  let o = 0;
  for (let row = 0; row < rows; row++) {
    let base = 0;
    let inside = true;
    for (let k = 0; k < outer; k++) {
      const t = tables[k][idx[k]];
      if (t < 0) inside = false;
      base += t;
    }
    if (!inside) {
      out.fill(fill, o, o + len);
    } else if (lastHasFill) {
      for (let j = 0; j < len; j++) {
        const t = last[j];
        out[o + j] = t < 0 ? fill : src[base + t];
      }
    } else {
      for (let j = 0; j < len; j++) out[o + j] = src[base + last[j]];
    }
    o += len;
    for (let k = outer - 1; k >= 0; k--) {
      if (++idx[k] < outShape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

export function evalPermute(node: PermuteNode, src: Float64Array): Float64Array {
  const inStrides = stridesOf(node.src[0].shape);
  const tables = node.perm.map((p, k) => table(node.shape[k], (i) => i * inStrides[p]));
  return gather(src, node.shape, tables, 0);
}

export function evalExpand(node: ExpandNode, src: Float64Array): Float64Array {
  const inShape = node.src[0].shape;
  const inStrides = stridesOf(inShape);
  const tables = node.shape.map((d, k) => table(d, (i) => (inShape[k] === 1 ? 0 : i * inStrides[k])));
  return gather(src, node.shape, tables, 0);
}

export function evalSlice(node: SliceNode, src: Float64Array): Float64Array {
  const inStrides = stridesOf(node.src[0].shape);
  const tables = node.shape.map((d, k) => table(d, (i) => (node.start[k] + i * node.step[k]) * inStrides[k]));
  return gather(src, node.shape, tables, 0);
}

export function evalPad(node: PadNode, src: Float64Array): Float64Array {
  const inShape = node.src[0].shape;
  const inStrides = stridesOf(inShape);
  const tables = node.shape.map((d, k) => table(d, (i) => {
    const j = i - node.pads[k][0];
    if (node.mode === 'replicate') return Math.min(Math.max(j, 0), inShape[k] - 1) * inStrides[k];
    return j >= 0 && j < inShape[k] ? j * inStrides[k] : FILL;
  }));
  return gather(src, node.shape, tables, node.value);
}

export function evalRepeat(node: RepeatNode, src: Float64Array): Float64Array {
  const inStrides = stridesOf(node.src[0].shape);
  const tables = node.shape.map((d, k) => table(d, (i) => Math.floor(i / node.factors[k]) * inStrides[k]));
  return gather(src, node.shape, tables, 0);
}

/** Parts are copied as contiguous blocks: for each outer index, each part's whole slab in turn. */
export function evalConcat(node: ConcatNode, parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(numel(node.shape));
  const axis = node.axis;
  const outer = numel(node.shape.slice(0, axis));
  const inner = numel(node.shape.slice(axis + 1));
  const slabs = node.src.map((s) => s.shape[axis] * inner);
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (let p = 0; p < parts.length; p++) {
      const len = slabs[p];
      const part = parts[p];
      const from = i * len;
      if (len >= 64) out.set(part.subarray(from, from + len), o);
      else for (let j = 0; j < len; j++) out[o + j] = part[from + j];
      o += len;
    }
  }
  return out;
}

/** Whole rows of the table, one per id; an id outside the table is an error, as in PyTorch. */
export function evalGather(node: GatherNode, table: Float64Array, ids: Float64Array): Float64Array {
  const rows = node.src[0].shape[0];
  const row = numel(node.src[0].shape.slice(1));
  const out = new Float64Array(ids.length * row);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= rows) {
      throw new RangeError(`reference interpreter: gather index ${id} (position ${i} of the ids) is outside the table's ${rows} rows`);
    }
    out.set(table.subarray(id * row, (id + 1) * row), i * row);
  });
  return out;
}
