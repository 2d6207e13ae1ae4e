/**
 * Flash attention: O = softmax_lastaxis(S(Q·Kᵀ)) · V in one kernel, with no Lq × Lk buffer.
 *
 * Vocabulary
 * - rows × lanes threads per workgroup: one query row per `rows` index, `lanes` threads per
 *   row. A key tile is `lanes` keys long.
 * - Lane c holds the query's features d ≡ c (mod lanes) in registers and accumulates the
 *   output features dv ≡ c (mod lanes).
 * Per key tile: each lane computes partial dot products for every key of the tile over its
 * features (workgroup memory), lane c then sums the partials of key c and evaluates the score
 * expression there (scale, additive mask, `where` with a mask computed from iota — the
 * matched S, with Q·Kᵀ bound to that sum), and every lane of the row updates the running max,
 * the running sum and its output accumulators (online softmax, f32). Keys past the end score
 * -inf; query rows past the end are computed clamped and not stored.
 */
import type { Node } from '../ir.ts';
import { numel } from '../ir.ts';
import type { AttentionMatch, Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, newWriter, dispatchGrid, kernelHeader, workgroupIndex } from './common.ts';
import { type Ix, ixAdd, ixDelinearize, ixLinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { inBounds } from './register_tile.ts';
import { type AttentionConfig, defaultAttentionConfig } from './tile.ts';
import { ValueEmitter, storeExpr } from './values.ts';
import { f32Literal } from './wgsl.ts';

export function generateAttention(name: string, att: AttentionMatch, epi: Epilogue, ctx: GenContext, cfgOverride?: AttentionConfig): GeneratedKernel {
  const r = att.pv.shape.length;
  const batchShape = att.pv.shape.slice(0, r - 2);
  const batch = numel(batchShape);
  const lq = att.qk.shape[r - 2];
  const lk = att.qk.shape[r - 1];
  const dq = att.q.shape[r - 1];
  const dv = att.v.shape[r - 1];
  const cfg = cfgOverride ?? ctx.tiles?.attention ?? defaultAttentionConfig(ctx.target, lq);
  const rows = cfg.rows;
  const lanes = cfg.lanes;
  const du = Math.ceil(dq / lanes);
  const vu = Math.ceil(dv / lanes);
  const qTiles = Math.ceil(lq / rows);
  const kTiles = Math.ceil(lk / lanes);

  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(att.pv);
  ve.noteOrigin(att.qk);
  const negInf = f32Literal(-Infinity);
  w.moduleDecl(`var<workgroup> part: array<f32, ${rows * lanes * lanes}>;`);
  w.moduleDecl(`var<workgroup> sc: array<f32, ${rows * lanes}>;`);

  const count = batch * qTiles;
  const grid = dispatchGrid(count, ctx.target);
  const wg = workgroupIndex(w, grid, count);
  const [bi, qt] = ixDelinearize(wg, [batch, qTiles]);
  const bc = ixDelinearize(bi, batchShape);
  const lane = ixVar('lid.x', 0, lanes - 1, 0);
  const row = ixVar('lid.y', 0, rows - 1, 0);
  const i = ixAdd(ixScale(qt, rows), row);
  const iC = ixMin(i, lq - 1);
  const feature = (u: Ix): Ix => ixAdd(ixScale(u, lanes), lane);

  // The query row's features for this lane, in registers (zero past the end).
  w.stmt(`var qr: array<f32, ${du}>;`);
  w.openLoop('u', du);
  {
    const d = feature(ixVar('u', 0, du - 1, w.level));
    const qv = ve.value(att.q, [...bc, iC, ixMin(d, dq - 1)]).code;
    const ok = inBounds(w, d, dq);
    w.stmt(`qr[u] = ${ok === true ? qv : `select(0.0f, ${qv}, ${ok})`};`);
  }
  w.close();
  w.stmt(`var m_run: f32 = ${negInf};`);
  w.stmt('var l_run: f32 = 0.0f;');
  w.stmt(`var acc: array<f32, ${vu}>;`);

  w.openLoop('kt', kTiles);
  const kt = ixVar('kt', 0, kTiles - 1, w.level);
  const rowBase = ixScale(row, lanes);
  // 1. Partial dot products of this lane's features with every key of the tile.
  w.openLoop('kk', lanes);
  {
    const kk = ixVar('kk', 0, lanes - 1, w.level);
    const jC = ixMin(ixAdd(ixScale(kt, lanes), kk), lk - 1);
    w.stmt('var dot: f32 = 0.0f;');
    w.openLoop('u', du);
    const d = ixMin(feature(ixVar('u', 0, du - 1, w.level)), dq - 1);
    const kv = ve.value(att.kt, [...bc, d, jC]).code;
    w.stmt(`dot = fma(qr[u], ${kv}, dot);`);
    w.close();
    w.stmt(`part[${w.ix(ixAdd(ixScale(ixAdd(rowBase, lane), lanes), kk))}] = dot;`);
  }
  w.close();
  w.stmt('workgroupBarrier();');
  // 2. Lane c: the score of key c of the tile.
  w.stmt('var qk: f32 = 0.0f;');
  w.openLoop('cc', lanes);
  {
    const cc = ixVar('cc', 0, lanes - 1, w.level);
    w.stmt(`qk = qk + part[${w.ix(ixAdd(ixScale(ixAdd(rowBase, cc), lanes), lane))}];`);
  }
  w.close();
  {
    const j = ixAdd(ixScale(kt, lanes), lane);
    const jC = ixMin(j, lk - 1);
    const qkv = w.let('qk', w.level);
    ve.bind(att.qk, [...bc, iC, jC], qkv);
    const s = ve.value(att.scores, [...bc, iC, jC]).code;
    const ok = inBounds(w, j, lk);
    w.stmt(`sc[${w.ix(ixAdd(rowBase, lane))}] = ${ok === true ? s : `select(${negInf}, ${s}, ${ok})`};`);
  }
  w.stmt('workgroupBarrier();');
  // 3. Online softmax update of this row (every lane of the row does the same).
  w.stmt(`var m_tile: f32 = ${negInf};`);
  w.openLoop('kk', lanes);
  w.stmt(`m_tile = max(m_tile, sc[${w.ix(ixAdd(rowBase, ixVar('kk', 0, lanes - 1, w.level)))}]);`);
  w.close();
  w.stmt('let m_new = max(m_run, m_tile);');
  w.stmt(`let alive = m_new > ${negInf};`);
  w.stmt('let corr = select(1.0f, exp(m_run - m_new), alive);');
  w.stmt('l_run = l_run * corr;');
  w.stmt(`for (var u = 0u; u < ${w.bound(vu)}; u += 1u) { acc[u] = acc[u] * corr; }`);
  w.openLoop('kk', lanes);
  {
    const kk = ixVar('kk', 0, lanes - 1, w.level);
    const jC = ixMin(ixAdd(ixScale(kt, lanes), kk), lk - 1);
    w.stmt(`let p = select(0.0f, exp(sc[${w.ix(ixAdd(rowBase, kk))}] - m_new), alive);`);
    w.stmt('l_run = l_run + p;');
    w.openLoop('u', vu);
    const f = ixMin(feature(ixVar('u', 0, vu - 1, w.level)), dv - 1);
    const vv = ve.value(att.v, [...bc, jC, f]).code;
    w.stmt(`acc[u] = fma(p, ${vv}, acc[u]);`);
    w.close();
  }
  w.close();
  w.stmt('m_run = m_new;');
  w.stmt('workgroupBarrier();');
  w.close();

  // 4. Normalise, epilogue, store.
  w.stmt('let l_inv = 1.0f / l_run;');
  const end: Node = epi.end;
  const out = w.bind(ctx.tensorOf(end), end.dtype, 'read_write');
  w.openLoop('u', vu);
  {
    const f = feature(ixVar('u', 0, vu - 1, w.level));
    const fC = ixMin(f, dv - 1);
    const coords = [...bc, iC, fC];
    const o = w.let('acc[u] * l_inv', w.level);
    ve.bind(att.pv, coords, o);
    const v = end === att.pv ? o : ve.compute(end, coords).code;
    const guard = [inBounds(w, i, lq), inBounds(w, f, dv)].filter((g): g is string => g !== true);
    const store = `${out}[${w.ix(ixLinearize(coords, end.shape))}] = ${storeExpr(v, end.dtype)};`;
    w.stmt(guard.length ? `if ${guard.join(' && ')} { ${store} }` : store);
  }
  w.close();
  for (const n of att.internal) ve.noteOrigin(n);
  const allOps = ve.origins;
  const detail = `${batch > 1 ? `${batch} x ` : ''}Lq ${lq}, Lk ${lk}, D ${dq}, Dv ${dv}; ${rows} rows x ${lanes} lanes`;
  const wgsl = w.finish({ header: kernelHeader(name, 'attention', detail, allOps), workgroupSize: [lanes, rows, 1], builtins: BUILTINS });
  const flops = 2 * batch * lq * lk * (dq + dv);
  return { wgsl, workgroups: grid, bindings: w.bindings, kind: 'attention', sourceOps: allOps, flops };
}
