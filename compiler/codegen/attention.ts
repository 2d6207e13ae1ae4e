/**
 * Flash attention: O = softmax_lastaxis(S(Q·Kᵀ)) · V in one kernel, with no Lq × Lk buffer.
 *
 * Vocabulary
 * - A workgroup has `rows` × `lanes` threads and owns rows·perThread consecutive query rows;
 *   thread (r, c) owns the `perThread` queries r·perThread + q. A key tile is `lanes` keys.
 * - Lane c holds its queries' features d ≡ c (mod lanes) in registers (qr) and accumulates
 *   their output features e ≡ c (mod lanes) (acc). Every key and value element it loads is
 *   used by all of its queries (register blocking over queries).
 * Per key tile: each lane computes partial dot products of its queries with every key of the
 * tile over its features (into workgroup memory); lane c then sums the partials of key c and
 * evaluates the score expression there (scale, additive mask, `where` with a mask computed
 * from iota — the matched S, with Q·Kᵀ bound to that sum); then every lane updates its
 * queries' running max, running sum and output accumulators (online softmax, f32). Keys past
 * the end score -inf; queries past the end are computed clamped and not stored.
 * Configurations with one lane take whole query rows per thread instead (attention_rows.ts).
 */
import { numel } from '../ir.ts';
import type { AttentionMatch, Epilogue } from '../passes/schedule.ts';
import { generateRowAttention } from './attention_rows.ts';
import { storeAttentionOutput } from './attention_store.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, dispatchGrid, kernelHeader, newWriter, workgroupIndex } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixDelinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { allOf, inBounds } from './register_tile.ts';
import { type AttentionConfig, defaultAttentionConfig } from './tile.ts';
import { ValueEmitter } from './values.ts';
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
  if (cfg.lanes === 1) return generateRowAttention(name, att, epi, ctx, cfg);
  const { rows, lanes, perThread: nq } = cfg;
  const du = Math.ceil(dq / lanes);
  const vu = Math.ceil(dv / lanes);
  const tileRows = rows * nq;
  const qTiles = Math.ceil(lq / tileRows);
  const kTiles = Math.ceil(lk / lanes);

  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(att.pv);
  ve.noteOrigin(att.qk);
  const negInf = f32Literal(-Infinity);
  w.workgroupArray('part', 'f32', tileRows * lanes * lanes);
  w.workgroupArray('sc', 'f32', tileRows * lanes);

  const count = batch * qTiles;
  const grid = dispatchGrid(count, ctx.target);
  const wg = workgroupIndex(w, grid, count);
  const [bi, qt] = ixDelinearize(wg, [batch, qTiles]);
  const bc = ixDelinearize(bi, batchShape);
  const lane = ixVar('lid.x', 0, lanes - 1, 0);
  const row = ixVar('lid.y', 0, rows - 1, 0);
  // Query q of this thread: its row within the workgroup's tile, its index, clamped index.
  const tileRow = (q: number): Ix => ixAddConst(ixScale(row, nq), q);
  const qi = (q: number): Ix => ixAdd(ixScale(qt, tileRows), tileRow(q));
  const qiC = (q: number): Ix => ixMin(qi(q), lq - 1);
  const feature = (u: Ix): Ix => ixAdd(ixScale(u, lanes), lane);
  const queries = [...Array(nq).keys()];

  // The queries' features for this lane, in registers (zero past the end).
  w.stmt(`var qr: array<f32, ${nq * du}>;`);
  w.openLoop('u', du);
  {
    const u = ixVar('u', 0, du - 1, w.level);
    const d = feature(u);
    const ok = inBounds(w, d, dq);
    for (const q of queries) {
      const qv = ve.value(att.q, [...bc, qiC(q), ixMin(d, dq - 1)]).code;
      w.stmt(`qr[${q * du}u + u] = ${ok === true ? qv : `select(0.0f, ${qv}, ${ok})`};`);
    }
  }
  w.close();
  for (const q of queries) w.stmt(`var m_run${q}: f32 = ${negInf};`, `var l_run${q}: f32 = 0.0f;`);
  w.stmt(`var acc: array<f32, ${nq * vu}>;`);

  w.openLoop('kt', kTiles);
  const kt = ixVar('kt', 0, kTiles - 1, w.level);
  // 1. Partial dot products of this lane's features with every key of the tile.
  w.openLoop('kk', lanes);
  {
    const kk = ixVar('kk', 0, lanes - 1, w.level);
    const jC = ixMin(ixAdd(ixScale(kt, lanes), kk), lk - 1);
    for (const q of queries) w.stmt(`var dot${q}: f32 = 0.0f;`);
    w.openLoop('u', du);
    const d = ixMin(feature(ixVar('u', 0, du - 1, w.level)), dq - 1);
    const kv = ve.value(att.kt, [...bc, d, jC]).code;
    for (const q of queries) w.stmt(`dot${q} = fma(qr[${q * du}u + u], ${kv}, dot${q});`);
    w.close();
    for (const q of queries) w.stmt(`part[${w.ix(ixAdd(ixScale(ixAdd(ixScale(tileRow(q), lanes), lane), lanes), kk))}] = dot${q};`);
  }
  w.close();
  w.barrier();
  // 2. Lane c: the scores of key c of the tile.
  const j = ixAdd(ixScale(kt, lanes), lane);
  const jC = ixMin(j, lk - 1);
  const jOk = inBounds(w, j, lk);
  for (const q of queries) {
    w.stmt(`var qk${q}: f32 = 0.0f;`);
    w.openLoop('cc', lanes);
    const cc = ixVar('cc', 0, lanes - 1, w.level);
    w.stmt(`qk${q} = qk${q} + part[${w.ix(ixAdd(ixScale(ixAdd(ixScale(tileRow(q), lanes), cc), lanes), lane))}];`);
    w.close();
    const qkv = w.let(`qk${q}`, w.level);
    ve.bind(att.qk, [...bc, qiC(q), jC], qkv);
    const s = ve.value(att.scores, [...bc, qiC(q), jC]).code;
    w.stmt(`sc[${w.ix(ixAdd(ixScale(tileRow(q), lanes), lane))}] = ${jOk === true ? s : `select(${negInf}, ${s}, ${jOk})`};`);
  }
  w.barrier();
  // 3. Online softmax update of this thread's queries (every lane of a row does the same).
  for (const q of queries) {
    const base = ixScale(tileRow(q), lanes);
    w.stmt(`var m_tile${q}: f32 = ${negInf};`);
    w.openLoop('kk', lanes);
    w.stmt(`m_tile${q} = max(m_tile${q}, sc[${w.ix(ixAdd(base, ixVar('kk', 0, lanes - 1, w.level)))}]);`);
    w.close();
    w.stmt(`let m_new${q} = max(m_run${q}, m_tile${q});`);
    w.stmt(`let alive${q} = m_new${q} > ${negInf};`);
    w.stmt(`let corr${q} = select(1.0f, exp(m_run${q} - m_new${q}), alive${q});`);
    w.stmt(`l_run${q} = l_run${q} * corr${q};`);
    w.stmt(`for (var u = 0u; u < ${w.bound(vu)}; u += 1u) { acc[${q * vu}u + u] = acc[${q * vu}u + u] * corr${q}; }`);
  }
  w.openLoop('kk', lanes);
  {
    const kk = ixVar('kk', 0, lanes - 1, w.level);
    const jk = ixMin(ixAdd(ixScale(kt, lanes), kk), lk - 1);
    for (const q of queries) {
      w.stmt(`let p${q} = select(0.0f, exp(sc[${w.ix(ixAdd(ixScale(tileRow(q), lanes), kk))}] - m_new${q}), alive${q});`);
      w.stmt(`l_run${q} = l_run${q} + p${q};`);
    }
    w.openLoop('u', vu);
    const f = ixMin(feature(ixVar('u', 0, vu - 1, w.level)), dv - 1);
    const vv = ve.value(att.v, [...bc, jk, f]).code;
    for (const q of queries) w.stmt(`acc[${q * vu}u + u] = fma(p${q}, ${vv}, acc[${q * vu}u + u]);`);
    w.close();
  }
  w.close();
  for (const q of queries) w.stmt(`m_run${q} = m_new${q};`);
  w.barrier();
  w.close();

  // 4. Normalise, epilogue, store.
  for (const q of queries) {
    w.stmt(`let l_inv${q} = 1.0f / l_run${q};`);
    w.openLoop('u', vu);
    const f = feature(ixVar('u', 0, vu - 1, w.level));
    storeAttentionOutput(w, ve, ctx, att, epi, [...bc, qiC(q), ixMin(f, dv - 1)], `acc[${q * vu}u + u] * l_inv${q}`, allOf([inBounds(w, qi(q), lq), inBounds(w, f, dv)]));
    w.close();
  }

  for (const n of att.internal) ve.noteOrigin(n);
  const sourceOps = ve.origins;
  const detail = `${batch > 1 ? `${batch} x ` : ''}Lq ${lq}, Lk ${lk}, D ${dq}, Dv ${dv}; ${rows} rows x ${lanes} lanes, ${nq} queries per thread`;
  const wgsl = w.finish({ header: kernelHeader(name, 'attention', detail, sourceOps), workgroupSize: [lanes, rows, 1], builtins: BUILTINS });
  const flops = 2 * batch * lq * lk * (dq + dv);
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'attention', sourceOps, flops };
}
