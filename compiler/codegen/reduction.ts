/**
 * Reduction kernels for a row chain (one or more reductions over the same rows, see
 * passes/row_chain.ts). A *row* is one output element; its *length* K is the product of the
 * reduced axes. Two forms:
 * - workgroup per row: threads take a strided share of the row, then a tree in workgroup
 *   memory combines them; every thread then knows the total and evaluates the epilogue, and
 *   thread 0 stores it. Later reductions in the chain read earlier results from registers.
 * - thread per row (short rows, many of them): a plain loop per thread.
 */
import type { Node, ReduceFn, ReduceNode } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, newWriter, dispatchGrid, kernelHeader, workgroupIndex } from './common.ts';
import { centeredSquares } from './centered_moment.ts';
import { type Ix, ixAddConst, ixConst, ixDelinearize, ixScale, ixVar } from './index_expr.ts';
import { defaultReductionConfig } from './tile.ts';
import { ValueEmitter, storeExpr, storedIndex } from './values.ts';
import { literal, lowestLiteral, valueType } from './wgsl.ts';

function combine(r: ReduceNode, acc: string, v: string): string {
  return r.fn === 'sum' ? `${acc} + ${v}` : `max(${acc}, ${v})`;
}

/** The combination of one step's values (one, or four consecutive elements). */
function fold(fn: ReduceFn, vs: readonly string[]): string {
  if (vs.length === 1) return vs[0];
  return fn === 'sum' ? `((${vs[0]} + ${vs[1]}) + (${vs[2]} + ${vs[3]}))` : `max(max(${vs[0]}, ${vs[1]}), max(${vs[2]}, ${vs[3]}))`;
}

function identity(r: ReduceNode): string {
  return r.fn === 'sum' ? literal(0, r.dtype) : lowestLiteral(r.dtype);
}

export function generateReduction(name: string, chain: readonly Epilogue[], ctx: GenContext): GeneratedKernel {
  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  const first = chain[0].anchor as ReduceNode;
  const inShape = first.src[0].shape;
  const axes = first.axes;
  const outShape = first.shape;
  const rows = numel(outShape);
  const reduced = axes.map((a) => inShape[a]);
  const len = numel(reduced);
  const cfg = ctx.tiles?.reduction ?? defaultReductionConfig(ctx.target, rows, len);
  const perRow = cfg.threadsPerRow;
  if (perRow < 1 || (perRow & (perRow - 1)) !== 0) throw new Error(`reduction: threadsPerRow ${perRow} must be a power of two (the combining tree halves it)`);

  let row: Ix;
  let grid: [number, number, number];
  let wgSize: number;
  if (perRow === 1) {
    wgSize = cfg.rowsPerWorkgroup;
    const groups = Math.ceil(rows / wgSize);
    grid = dispatchGrid(groups, ctx.target);
    workgroupIndex(w, grid, groups);
    w.stmt(`let row = wg * ${wgSize}u + lid.x;`);
    if (groups * wgSize > rows) w.stmt(`if (row >= ${rows}u) { return; }`);
    row = ixVar('row', 0, rows - 1, 0);
  } else {
    wgSize = perRow;
    grid = dispatchGrid(rows, ctx.target);
    row = workgroupIndex(w, grid, rows);
  }
  const rowCoords = ixDelinearize(row, outShape);
  // Subgroup operations combine a workgroup's partials where the adapter has them (f32 and
  // i32 values; bool reductions, if any, keep the tree).
  const types = new Set(chain.map((e) => valueType(e.anchor.dtype)));
  const subgroups = perRow > 1 && ctx.target.features.subgroups && [...types].every((t) => t === 'f32' || t === 'i32');
  if (subgroups) w.enable('subgroups');
  for (const t of types) if (perRow > 1) w.workgroupArray(`red_${t}`, t === 'i32' ? 'i32' : 'f32', perRow);

  const coordsAt = (k: Ix): Ix[] => {
    const kc = ixDelinearize(k, reduced);
    return rowCoords.map((c, a) => (axes.includes(a) ? kc[axes.indexOf(a)] : c));
  };
  // Long rows: each step takes four consecutive elements, so a row stored contiguously is
  // read with vec4 loads (prefetch checks contiguity and alignment, else loads scalars).
  const step = perRow > 1 && len % 4 === 0 && len >= 4 * perRow ? 4 : 1;
  const steps = len / step;
  // Sums of squared deviations from an earlier result: accumulated in the first loop as each
  // thread's count, mean and M2 (centered_moment.ts), so the row is read once.
  const results = new Set(chain.flatMap((e) => [e.anchor.id, e.end.id]));
  const centred = chain.map((e, j) => (j > 0 ? centeredSquares(e.anchor as ReduceNode, results, ctx.storage) : undefined));

  chain.forEach((epi, j) => {
    const r = epi.anchor as ReduceNode;
    const t = valueType(r.dtype);
    const acc = `acc${j}`;
    const own = centred[j];
    if (own) {
      // This thread's share of Σ (x - m)²: its own M2 plus its count times the squared
      // distance of its mean from the row's (both terms non-negative: no cancellation).
      const m = ve.value(own.centre, coordsAt(ixConst(0))).code;
      w.stmt(`let cs${j}_d = cs${j}_mean - ${m};`);
      w.stmt(`var ${acc}: f32 = cs${j}_m2 + cs${j}_n * cs${j}_d * cs${j}_d;`);
    } else {
      w.stmt(`var ${acc}: ${t} = ${identity(r)};`);
      const welford = j === 0 ? centred.flatMap((c, i) => (c ? [{ i, x: c.x }] : [])) : [];
      for (const { i } of welford) for (const v of ['n', 'mean', 'm2']) w.stmt(`var cs${i}_${v}: f32 = 0.0f;`);
      if (perRow === 1) w.openLoop('k', steps);
      else w.open(`for (var k = lid.x; k < ${w.bound(steps)}; k += ${perRow}u)`);
      const k = ixVar('k', 0, Math.max(0, steps - 1), w.level);
      const lanes = step === 1 ? [coordsAt(k)] : [0, 1, 2, 3].map((l) => coordsAt(ixAddConst(ixScale(k, 4), l)));
      if (step === 4) ve.prefetch(r.src[0], lanes);
      const vs = lanes.map((c) => ve.value(r.src[0], c).code);
      w.stmt(`${acc} = ${combine(r, acc, fold(r.fn, vs))};`);
      for (const { i, x } of welford) {
        // Chan's update of (count, mean, M2) with this step's block of 1 or 4 elements.
        if (step === 4) ve.prefetch(x, lanes);
        const xs = lanes.map((c) => ve.value(x, c).code);
        const bm = xs.length === 1 ? xs[0] : w.let(`${fold('sum', xs)} * 0.25f`, w.level);
        const q = xs.length === 1 ? undefined : fold('sum', xs.map((v) => { const e = w.let(`${v} - ${bm}`, w.level); return `${e} * ${e}`; }));
        const d = w.let(`${bm} - cs${i}_mean`, w.level);
        const f = w.let(`${xs.length}.0f / (cs${i}_n + ${xs.length}.0f)`, w.level);
        w.stmt(`cs${i}_m2 = cs${i}_m2 + ${q ? `${q} + ` : ''}${d} * ${d} * cs${i}_n * ${f};`);
        w.stmt(`cs${i}_mean = cs${i}_mean + ${d} * ${f};`);
        w.stmt(`cs${i}_n = cs${i}_n + ${xs.length}.0f;`);
      }
      w.close();
    }
    let total: string;
    if (perRow === 1) {
      total = w.let(acc, w.level);
    } else if (subgroups) {
      // Each subgroup combines its lanes in registers; one partial per subgroup goes through
      // workgroup memory, and every thread folds those few in the same order (one barrier,
      // where the tree needs log2(threads)). Subgroups are taken to be consecutive runs of
      // local_invocation_index, as Vulkan, Metal and D3D lay out a 1-D workgroup.
      const red = `red_${t}`;
      const part = w.let(`${r.fn === 'sum' ? 'subgroupAdd' : 'subgroupMax'}(${acc})`, w.level);
      w.stmt(`if (sg_lane == 0u) { ${red}[lid.x / sg_size] = ${part}; }`);
      w.barrier();
      w.stmt(`var tot${j} = ${red}[0];`);
      w.open(`for (var s = 1u; s < (${perRow}u + sg_size - 1u) / sg_size; s += 1u)`);
      w.stmt(`tot${j} = ${combine(r, `tot${j}`, `${red}[s]`)};`);
      w.close();
      total = w.let(`tot${j}`, w.level);
      w.barrier();
    } else {
      const red = `red_${t}`;
      w.stmt(`${red}[lid.x] = ${acc};`);
      w.barrier();
      w.open(`for (var s = ${perRow / 2}u; s > 0u; s = s >> 1u)`);
      w.stmt(`if (lid.x < s) { ${red}[lid.x] = ${combine(r, `${red}[lid.x]`, `${red}[lid.x + s]`)}; }`);
      w.barrier();
      w.close();
      total = w.let(`${red}[0]`, w.level);
      w.barrier();
    }
    ve.noteOrigin(r);
    ve.bind(r, rowCoords, total, 0);
    const end: Node = epi.end;
    const val = end === r ? { code: total, level: 0 } : ve.compute(end, rowCoords);
    const outTensor = ctx.tensorOf(end);
    const store = `${w.element(outTensor, end.dtype, 'read_write', w.ix(storedIndex(ctx.storage, end, row)))} = ${storeExpr(val.code, w.storageDType(outTensor, end.dtype))};`;
    w.stmt(perRow === 1 ? store : `if (lid.x == 0u) { ${store} }`);
    ve.bindEverywhere(end, val);
  });

  const sourceOps = ve.origins;
  const detail = chain.map((e) => (e.anchor as ReduceNode).fn).join(', ') + ` over ${len} x ${rows} rows`;
  const builtins = subgroups ? `${BUILTINS}, @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32` : BUILTINS;
  const wgsl = w.finish({ header: kernelHeader(name, 'reduction', detail, sourceOps), workgroupSize: [wgSize, 1, 1], builtins });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'reduction', sourceOps, flops: chain.length * numel(inShape) };
}
