/**
 * Elementwise kernels: one thread per `per` consecutive outputs along the last axis (one or
 * more aligned groups of 4 when the last axis allows it, so index arithmetic and vec4 loads
 * and stores are shared; see tile.ts), computing a node (or copying a stored node into an
 * output tensor) from its inlined expression.
 */
import type { Node } from '../ir.ts';
import { numel } from '../ir.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, newWriter, dispatchGrid, kernelHeader, workgroupIndex } from './common.ts';
import { type Ix, ixAddConst, ixConst, ixDelinearize, ixDiv, ixLinearize, ixScale, ixVar } from './index_expr.ts';
import { elementwiseVectorsPerThread, elementwiseWorkgroupSize } from './tile.ts';
import { ValueEmitter, storeExpr } from './values.ts';
import { storageType } from './wgsl.ts';
import { vectorizable } from './writer.ts';

export function generateElementwise(name: string, node: Node, own: boolean, outTensor: number, ctx: GenContext): GeneratedKernel {
  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  const shape = node.shape.length === 0 ? [1] : node.shape;
  const total = numel(shape);
  const last = shape[shape.length - 1];
  const vecs = elementwiseVectorsPerThread(ctx.target, last, total);
  const per = vecs > 0 ? 4 * vecs : 1;
  const threads = total / per;
  const wgSize = elementwiseWorkgroupSize(ctx.target);
  const groups = Math.ceil(threads / wgSize);
  const grid = dispatchGrid(groups, ctx.target);
  workgroupIndex(w, grid, groups);
  w.stmt(`let tid = wg * ${wgSize}u + lid.x;`);
  if (groups * wgSize > threads) w.stmt(`if (tid >= ${threads}u) { return; }`);
  const tid = ixVar('tid', 0, Math.max(0, threads - 1), 0);
  const grouped = [...shape.slice(0, -1), last / per];
  const base = ixDelinearize(tid, grouped);
  const lanes: Ix[][] = [];
  for (let j = 0; j < per; j++) {
    const coords: Ix[] = [...base];
    coords[coords.length - 1] = per === 1 ? base[base.length - 1] : ixAddConst(ixScale(base[base.length - 1], per), j);
    lanes.push(node.shape.length === 0 ? [] : coords);
  }
  if (vecs > 0) for (let q = 0; q < per; q += 4) ve.prefetch(node, lanes.slice(q, q + 4), own);
  const values = lanes.map((c) => (own ? ve.compute(node, c) : ve.value(node, c)).code);
  const idx = lanes.map((c) => (node.shape.length === 0 ? ixConst(0) : ixLinearize(c, shape)));
  const stored = w.storageDType(outTensor, node.dtype);
  if (vecs > 0 && vectorizable(stored)) {
    // Groups of four consecutive, 4-aligned elements (the last axis is a multiple of 4): one vec4 store each.
    for (let q = 0; q < per; q += 4) {
      const target = w.vector(outTensor, node.dtype, 'read_write', w.ix(ixDiv(idx[q], 4)));
      const four = values.slice(q, q + 4).join(', ');
      const vec = stored === 'f16' ? `vec4<f16>(vec4<f32>(${four}))` : `vec4<${storageType(stored)}>(${four})`;
      w.stmt(`${target} = ${vec};`);
    }
  } else {
    values.forEach((v, j) => w.stmt(`${w.element(outTensor, node.dtype, 'read_write', w.ix(idx[j]))} = ${storeExpr(v, stored)};`));
  }
  const sourceOps = ve.origins.length ? ve.origins : [`copy of %${node.id}`];
  const wgsl = w.finish({
    header: kernelHeader(name, 'elementwise', own ? node.op : 'copy', sourceOps),
    workgroupSize: [wgSize, 1, 1],
    builtins: BUILTINS,
  });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'elementwise', sourceOps, flops: own ? total * Math.max(1, ve.origins.length) : 0 };
}
