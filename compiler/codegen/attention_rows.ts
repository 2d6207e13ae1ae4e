/**
 * Flash attention with whole query rows per thread: the attention configurations with one lane
 * (`lanes: 1`). Each thread owns `perThread` consecutive queries, keeps their features and
 * output accumulators in private arrays, and streams the keys in blocks of KEY_BLOCK: the
 * block's scores (the matched score expression with Q·Kᵀ bound to the dot product), one
 * rescale of the accumulators per block (online softmax), then the block's values. No
 * workgroup memory, no barriers.
 *
 * Why: on a CPU adapter (lavapipe) a workgroup's threads are the lanes of SIMD loops, and every
 * thread of a workgroup reads the same key and value element at the same time (one head, one
 * key), so those loads are broadcasts and the arithmetic vectorises across queries. The
 * lane-split kernel (attention.ts) instead sums partial dot products through workgroup memory
 * with a barrier per key tile, which a CPU pays in full. GPUs keep the lane-split kernel.
 */
import { numel } from '../ir.ts';
import type { AttentionMatch, Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, dispatchGrid, kernelHeader, newWriter, workgroupIndex } from './common.ts';
import { storeAttentionOutput } from './attention_store.ts';
import { type Ix, ixAdd, ixAddConst, ixDelinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { inBounds } from './register_tile.ts';
import type { AttentionConfig } from './tile.ts';
import { ValueEmitter } from './values.ts';
import { f32Literal } from './wgsl.ts';

/** Keys scored per block: the accumulators are rescaled once per block. */
const KEY_BLOCK = 8;

export function generateRowAttention(name: string, att: AttentionMatch, epi: Epilogue, ctx: GenContext, cfg: AttentionConfig): GeneratedKernel {
  const r = att.pv.shape.length;
  const batchShape = att.pv.shape.slice(0, r - 2);
  const batch = numel(batchShape);
  const [lq, lk] = [att.qk.shape[r - 2], att.qk.shape[r - 1]];
  const [dq, dv] = [att.q.shape[r - 1], att.v.shape[r - 1]];
  const { rows, perThread: nq } = cfg;
  const tileRows = rows * nq;
  const qTiles = Math.ceil(lq / tileRows);
  const kBlocks = Math.ceil(lk / KEY_BLOCK);
  const negInf = f32Literal(-Infinity);

  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(att.pv);
  ve.noteOrigin(att.qk);
  const count = batch * qTiles;
  const grid = dispatchGrid(count, ctx.target);
  const [bi, qt] = ixDelinearize(workgroupIndex(w, grid, count), [batch, qTiles]);
  const bc = ixDelinearize(bi, batchShape);
  const row = ixVar('lid.x', 0, rows - 1, 0);
  // Query q of this thread, and its index clamped into Lq (computed, never stored, past it).
  const qi = (q: number): Ix => ixAdd(ixScale(qt, tileRows), ixAddConst(ixScale(row, nq), q));
  const qiC = (q: number): Ix => ixMin(qi(q), lq - 1);
  const queries = [...Array(nq).keys()];

  w.stmt(`var qr: array<f32, ${nq * dq}>;`, `var acc = array<f32, ${nq * dv}>();`, `var sc: array<f32, ${nq * KEY_BLOCK}>;`);
  w.openLoop('f', dq);
  {
    const f = ixVar('f', 0, dq - 1, w.level);
    for (const q of queries) w.stmt(`qr[${q * dq}u + f] = ${ve.value(att.q, [...bc, qiC(q), f]).code};`);
  }
  w.close();
  for (const q of queries) w.stmt(`var m_run${q}: f32 = ${negInf};`, `var l_run${q}: f32 = 0.0f;`);

  w.openLoop('kb', kBlocks);
  const kb = ixVar('kb', 0, kBlocks - 1, w.level);
  // 1. The block's scores, and their max per query.
  for (const q of queries) w.stmt(`var m_blk${q}: f32 = ${negInf};`);
  w.openLoop('jj', KEY_BLOCK);
  {
    const j = ixAdd(ixScale(kb, KEY_BLOCK), ixVar('jj', 0, KEY_BLOCK - 1, w.level));
    const jC = ixMin(j, lk - 1);
    const ok = inBounds(w, j, lk);
    for (const q of queries) w.stmt(`var dot${q}: f32 = 0.0f;`);
    w.openLoop('f', dq);
    const kv = ve.value(att.kt, [...bc, ixVar('f', 0, dq - 1, w.level), jC]).code;
    for (const q of queries) w.stmt(`dot${q} = fma(qr[${q * dq}u + f], ${kv}, dot${q});`);
    w.close();
    for (const q of queries) {
      const coords = [...bc, qiC(q), jC];
      ve.bind(att.qk, coords, w.let(`dot${q}`, w.level));
      const s = ve.value(att.scores, coords).code;
      w.stmt(`let s${q} = ${ok === true ? s : `select(${negInf}, ${s}, ${ok})`};`, `sc[${q * KEY_BLOCK}u + jj] = s${q};`, `m_blk${q} = max(m_blk${q}, s${q});`);
    }
  }
  w.close();
  // 2. One rescale per block (online softmax).
  for (const q of queries) {
    w.stmt(`let m_new${q} = max(m_run${q}, m_blk${q});`, `let alive${q} = m_new${q} > ${negInf};`);
    w.stmt(`let corr${q} = select(1.0f, exp(m_run${q} - m_new${q}), alive${q});`, `l_run${q} = l_run${q} * corr${q};`);
    w.stmt(`for (var e = 0u; e < ${w.bound(dv)}; e += 1u) { acc[${q * dv}u + e] = acc[${q * dv}u + e] * corr${q}; }`);
  }
  // 3. The block's values, each read once for all of the thread's queries.
  w.openLoop('jj', KEY_BLOCK);
  {
    const jC = ixMin(ixAdd(ixScale(kb, KEY_BLOCK), ixVar('jj', 0, KEY_BLOCK - 1, w.level)), lk - 1);
    for (const q of queries) w.stmt(`let p${q} = select(0.0f, exp(sc[${q * KEY_BLOCK}u + jj] - m_new${q}), alive${q});`, `l_run${q} = l_run${q} + p${q};`);
    w.openLoop('e', dv);
    const vv = ve.value(att.v, [...bc, jC, ixVar('e', 0, dv - 1, w.level)]).code;
    for (const q of queries) w.stmt(`acc[${q * dv}u + e] = fma(p${q}, ${vv}, acc[${q * dv}u + e]);`);
    w.close();
  }
  w.close();
  for (const q of queries) w.stmt(`m_run${q} = m_new${q};`);
  w.close();

  // Normalise, epilogue, store.
  for (const q of queries) {
    w.stmt(`let l_inv${q} = 1.0f / l_run${q};`);
    w.openLoop('e', dv);
    const e = ixVar('e', 0, dv - 1, w.level);
    storeAttentionOutput(w, ve, ctx, att, epi, [...bc, qiC(q), e], `acc[${q * dv}u + e] * l_inv${q}`, inBounds(w, qi(q), lq));
    w.close();
  }

  for (const n of att.internal) ve.noteOrigin(n);
  const sourceOps = ve.origins;
  const detail = `${batch > 1 ? `${batch} x ` : ''}Lq ${lq}, Lk ${lk}, D ${dq}, Dv ${dv}; whole rows: ${rows} threads x ${nq} queries, ${KEY_BLOCK}-key blocks`;
  const wgsl = w.finish({ header: kernelHeader(name, 'attention', detail, sourceOps), workgroupSize: [rows, 1, 1], builtins: BUILTINS });
  const flops = 2 * batch * lq * lk * (dq + dv);
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'attention', sourceOps, flops };
}
