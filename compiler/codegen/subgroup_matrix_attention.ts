/**
 * Flash attention on subgroup matrices (tensor cores): the scalar kernel's algorithm
 * (attention.ts: online softmax, no Lq × Lk buffer) with both products, S = Q·Kᵀ and P·V, on
 * the adapter's subgroup-matrix configurations. At the released transformer's size attention
 * is most of the work (4·L²·3072 flops a block for L ≈ 113,600 tokens, 86% of it), so this is
 * the kernel that decides its speed on a GPU.
 *
 * Vocabulary
 * - A workgroup is one subgroup (S invocations, the adapter's largest subgroup size) and owns
 *   BQ = FQ·M query rows. Keys come in tiles of BK (a multiple of N, for S's result fragments,
 *   and of K, for P's left fragments). Every workgroup reads all of K and V, so more rows per
 *   workgroup is less memory traffic; the rows are bounded by workgroup memory and by the
 *   output accumulators each invocation keeps in registers (BQ·DV / S). (Several
 *   subgroups sharing one key tile would cut the traffic further, but WGSL's uniformity analysis
 *   requires a subgroup matrix's offset to be the same across the workgroup: no subgroup can
 *   address rows of its own.) Features are padded with zeros to DQ (a multiple of K) and DV (of N).
 * - Workgroup memory, in the config's component type T unless said: `att_q` [BQ × DQ] (staged
 *   once, the prologue — RMSNorm, RoPE, scaling — applied once per element), `att_kv` holding
 *   the key tile [BK × DQ] and then the value tile [BK × DV], `att_s` (f32) [BQ × BK] scores,
 *   `att_p` [BQ × BK] probabilities, `att_o` (f32) [BQ × N] one column block of this tile's
 *   P·V, `att_corr` and `att_l` (f32) [BQ] the rows' rescaling factors and, at the end, their
 *   sums.
 * - Per key tile: stage K; the S fragments (FQ × BK/N, sums over DQ/K products; the left
 *   fragment a row-major block of att_q, the right one a column-major block of att_kv) go to
 *   att_s; stage V while the invocation owning a row evaluates its scores (the matched score
 *   expression with Q·Kᵀ bound to the product: scale, additive or `where` masks, keys past the
 *   end at -inf), takes the running max and sum and writes exp(s - max) to att_p and the
 *   rescaling factor to att_corr; then per column block of N features, the P·V fragments go to
 *   att_o and every invocation folds its share of it into its output accumulators (registers),
 *   rescaling them first. Subgroup matrices cannot scale their rows, so the running output
 *   lives in registers, not in fragments.
 * - Precision: on an f16 configuration (f16 storage) Q, K and P are rounded to f16 where they
 *   are staged, as Q and K would be had they been stored between kernels rather than made by
 *   the prologue (RoPE, RMSNorm); scores, sums and the output are f32. Staging Q and K as hi and
 *   lo parts, as the convolution stages its inputs (subgroup_matrix_conv.ts), would cost three
 *   products for S instead of one, and bought nothing measurable: on the transformer goldens
 *   with `--dtype f16` (bench/experiments/emulated_tensor_core_goldens.ts; dit_tiny_token_replace,
 *   dit_token_replace_wide, dit_no_qk_norm_t2v) relative L2 errors of 7.2e-4, 7.1e-4 and
 *   1.37e-3 rounded, 6.9e-4, 7.0e-4 and 1.35e-3 split, against 6.8e-4, 7.2e-4 and 1.39e-3 for
 *   the scalar kernel (upstream rounds Q, K and P to bf16).
 *
 * It takes attention whose V is stored in the config's component type (f16 configurations are
 * for f16 storage), on a configuration accumulating in f32, when the tiles fit the workgroup
 * memory. Everything else uses the scalar kernel, which is also the fallback when this returns
 * undefined.
 */
import { numel } from '../ir.ts';
import type { AttentionMatch, Epilogue } from '../passes/schedule.ts';
import { storeAttentionOutput } from './attention_store.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, kernelHeader, newWriter, workgroupCell } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixDelinearize, ixDiv, ixMin, ixMod, ixScale, ixVar } from './index_expr.ts';
import { allOf, inBounds } from './register_tile.ts';
import { type SubgroupMatrixConfig, type SubgroupMatrixSupport } from './subgroup_matrix.ts';
import { readsStoredAs } from './subgroup_matrix_conv.ts';
import { subgroupMatrixOps } from './subgroup_matrix_ops.ts';
import { ValueEmitter } from './values.ts';
import { f32Literal } from './wgsl.ts';
import type { KernelWriter } from './writer.ts';

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * (query rows, keys per tile) the heuristic tries, in order, rounded up to the fragment shape:
 * more rows first (less memory traffic), then more keys per tile (fewer barriers per key).
 */
const TILE_PREFERENCE: readonly (readonly [number, number])[] = [[64, 32], [64, 16], [32, 32], [32, 16], [16, 32], [16, 16], [8, 16], [8, 8]];

/**
 * The most output accumulators an invocation keeps (BQ·DV / S registers): past it a GPU spills
 * them to memory, so plans above it are taken only when none below fits (e.g. DV = 512).
 */
const MAX_ACCUMULATORS = 128;

interface Plan {
  readonly cfg: SubgroupMatrixConfig;
  readonly T: 'f32' | 'f16';
  /** Query rows per workgroup, keys per tile. */
  readonly bq: number;
  readonly bk: number;
  readonly dqP: number;
  readonly dvP: number;
}

/** Workgroup bytes a plan takes. */
function planBytes(p: Plan): number {
  const t = p.T === 'f16' ? 2 : 4;
  const kvRows = Math.max(p.dqP, p.dvP);
  return t * (p.bq * p.dqP + p.bk * kvRows + p.bq * p.bk) + 4 * (p.bq * p.bk + p.bq * p.cfg.N + 2 * p.bq);
}

/**
 * Why `att` cannot run on `cfg`, or the plan it runs with there: `fragments` (a tuned choice:
 * query-row and key fragments, BQ = f0·M, BK = f1·N rounded up to K) where it fits, else the
 * heuristic's.
 */
function fit(att: AttentionMatch, ctx: GenContext, cfg: SubgroupMatrixConfig, bytesLeft: number, lanes: number, fragments?: readonly [number, number]): Plan | string {
  if (cfg.resultComponentType !== 'f32') return `the config accumulates in ${cfg.resultComponentType}, not f32`;
  const T = cfg.componentType;
  if (T !== 'f32' && T !== 'f16') return `${T} operands`;
  if (!readsStoredAs(T, att.v, ctx)) return 'V is not read from a tensor stored in the config\'s component type';
  const r = att.pv.shape.length;
  const [dq, dv] = [att.q.shape[r - 1], att.v.shape[r - 1]];
  const unit = (cfg.N * cfg.K) / gcd(cfg.N, cfg.K);
  const base = { cfg, T, dqP: roundUp(dq, cfg.K), dvP: roundUp(dv, cfg.N) };
  if (fragments) {
    const tuned: Plan = { ...base, bq: fragments[0] * cfg.M, bk: roundUp(fragments[1] * cfg.N, unit) };
    if (planBytes(tuned) <= bytesLeft) return tuned;
  }
  const plans = TILE_PREFERENCE.map(([q, k]): Plan => ({ ...base, bq: roundUp(q, cfg.M), bk: roundUp(k, unit) }));
  const fitting = plans.filter((p) => planBytes(p) <= bytesLeft);
  const plan = fitting.find((p) => (p.bq * p.dvP) / lanes <= MAX_ACCUMULATORS) ?? fitting[fitting.length - 1];
  return plan ?? `its smallest tiles take ${planBytes(plans[plans.length - 1])} bytes of workgroup memory; ${bytesLeft} are left`;
}

/** `for (e …)` over this invocation's elements lidx + n·e of a rows × cols tile (n invocations); `body` gets (row, col, index) and runs guarded. */
function forTileElements(w: KernelWriter, n: number, rows: number, cols: number, body: (r: Ix, c: Ix, idx: Ix) => void): void {
  const total = rows * cols;
  const count = Math.ceil(total / n);
  w.openLoop('e', count);
  const idx = ixAdd(ixVar('lidx', 0, n - 1, 0), ixScale(ixVar('e', 0, count - 1, w.level), n));
  const guarded = idx.hi >= total;
  if (guarded) w.open(`if (${w.ix(idx)} < ${total}u)`);
  const inTile = guarded ? ixMin(idx, total - 1) : idx;
  body(ixDiv(inTile, cols), ixMod(inTile, cols), inTile);
  if (guarded) w.close();
  w.close();
}

/** The kernel on the first configuration that fits, or undefined (use the scalar kernel). */
export function generateSubgroupMatrixAttention(name: string, att: AttentionMatch, epi: Epilogue, ctx: GenContext, support: SubgroupMatrixSupport, fragments?: readonly [number, number]): GeneratedKernel | undefined {
  const w = newWriter(ctx);
  const S = support.subgroupMaxSize;
  const plan = support.configs.map((c) => fit(att, ctx, c, w.workgroupBytesLeft(), S, fragments)).find((f): f is Plan => typeof f !== 'string');
  if (!plan) return undefined;
  const { cfg, T, bq, bk, dqP, dvP } = plan;
  const r = att.pv.shape.length;
  const batchShape = att.pv.shape.slice(0, r - 2);
  const batch = numel(batchShape);
  const [lq, lk] = [att.qk.shape[r - 2], att.qk.shape[r - 1]];
  const [dq, dv] = [att.q.shape[r - 1], att.v.shape[r - 1]];
  const qTiles = Math.ceil(lq / bq);
  const kTiles = Math.ceil(lk / bk);
  const [fq, fs] = [bq / cfg.M, bk / cfg.N];
  const negInf = f32Literal(-Infinity);

  const ops = subgroupMatrixOps(w, cfg, T, support.emulate === true, S);
  // Fragment row i's offset in a [BQ × stride] array.
  const rowOffset = (i: number, stride: number): string => `${i * cfg.M * stride}u`;
  /** One result fragment `acc` = Σ over `steps` K-steps of left(c)·right(c), stored at `out`. */
  interface Operand { readonly fragment: string; readonly array: string; readonly offset: (c: string) => string; readonly stride: number; readonly layout: 'row_major' | 'col_major' }
  const fragmentProduct = (acc: string, steps: number, left: Operand, right: Operand, out: { array: string; offset: string; stride: number }): void => {
    ops.zeroResult(acc);
    w.openLoop('c', steps);
    ops.load(left.fragment, 'left', left.array, left.offset('c'), left.stride, left.layout);
    ops.load(right.fragment, 'right', right.array, right.offset('c'), right.stride, right.layout);
    ops.multiplyAccumulate(acc, left.fragment, right.fragment);
    w.close();
    ops.store(out.array, out.offset, acc, out.stride);
  };
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(att.pv);
  ve.noteOrigin(att.qk);
  const { grid, cell: [bi, qt] } = workgroupCell(w, ctx.target, [batch, qTiles]);
  const bc = ixDelinearize(bi, batchShape);
  w.workgroupArray('att_q', T, bq * dqP);
  w.workgroupArray('att_kv', T, bk * Math.max(dqP, dvP));
  w.workgroupArray('att_s', 'f32', bq * bk);
  w.workgroupArray('att_p', T, bq * bk);
  w.workgroupArray('att_o', 'f32', bq * cfg.N);
  w.workgroupArray('att_corr', 'f32', bq);
  w.workgroupArray('att_l', 'f32', bq);

  const stage = (v: string): string => (T === 'f16' ? `f16(${v})` : v);
  const zeroPastFeature = (code: string, f: Ix, size: number): string => (f.hi < size ? code : `select(0.0f, ${code}, ${w.ix(f)} < ${size}u)`);
  const query = (row: Ix): Ix => ixAdd(ixScale(qt, bq), row);
  const queryC = (row: Ix): Ix => ixMin(query(row), lq - 1);

  // Q once: the rows of this tile (clamped past Lq: computed, never stored), zeros past D.
  forTileElements(w, S, bq, dqP, (row, d, idx) => {
    w.stmt(`att_q[${w.ix(idx)}] = ${stage(zeroPastFeature(ve.value(att.q, [...bc, queryC(row), ixMin(d, dq - 1)]).code, d, dq))};`);
  });
  // The rows this invocation keeps the softmax state of: lidx + S·rr.
  const rowSlots = Math.ceil(bq / S);
  w.stmt(`var m_run = array<f32, ${rowSlots}>();`, `var l_run = array<f32, ${rowSlots}>();`);
  w.stmt(`for (var rr = 0u; rr < ${w.bound(rowSlots)}; rr += 1u) { m_run[rr] = ${negInf}; }`);
  // Output accumulators: per column block, this invocation's elements lidx + S·e of [bq × N].
  const blockSlots = Math.ceil((bq * cfg.N) / S);
  const blocks = dvP / cfg.N;
  w.stmt(`var o_acc = array<f32, ${blockSlots * blocks}>();`);
  w.barrier();

  w.openLoop('kt', kTiles);
  const kt = ixVar('kt', 0, kTiles - 1, w.level);
  const key = (kk: Ix): Ix => ixAdd(ixScale(kt, bk), kk);
  const keyC = (kk: Ix): Ix => ixMin(key(kk), lk - 1);
  // 1. The key tile, row-major by key (keys past Lk clamped: their scores are -inf).
  forTileElements(w, S, bk, dqP, (kk, d, idx) => {
    w.stmt(`att_kv[${w.ix(idx)}] = ${stage(zeroPastFeature(ve.value(att.kt, [...bc, ixMin(d, dq - 1), keyC(kk)]).code, d, dq))};`);
  });
  w.barrier();
  // 2. S = Q·Kᵀ into att_s.
  for (let i = 0; i < fq; i++) {
    for (let j = 0; j < fs; j++) {
      fragmentProduct(`s_${i}_${j}`, dqP / cfg.K,
        { fragment: 'fq', array: 'att_q', offset: (c) => `${rowOffset(i, dqP)} + ${c} * ${cfg.K}u`, stride: dqP, layout: 'row_major' },
        { fragment: 'fk', array: 'att_kv', offset: (c) => `${j * cfg.N * dqP}u + ${c} * ${cfg.K}u`, stride: dqP, layout: 'col_major' },
        { array: 'att_s', offset: `${rowOffset(i, bk)} + ${j * cfg.N}u`, stride: bk });
    }
  }
  w.barrier();
  // 3. The value tile (over the key tile, now read), and each owned row's online softmax.
  forTileElements(w, S, bk, dvP, (kk, f, idx) => {
    w.stmt(`att_kv[${w.ix(idx)}] = ${stage(zeroPastFeature(ve.value(att.v, [...bc, keyC(kk), ixMin(f, dv - 1)]).code, f, dv))};`);
  });
  w.openLoop('rr', rowSlots);
  {
    const row = ixAdd(ixVar('lidx', 0, S - 1, 0), ixScale(ixVar('rr', 0, rowSlots - 1, w.level), S));
    const owned = row.hi >= bq;
    if (owned) w.open(`if (${w.ix(row)} < ${bq}u)`);
    const rowC = owned ? ixMin(row, bq - 1) : row;
    const base = ixScale(rowC, bk);
    // Scores in place: the score expression at (query, key), -inf past Lk.
    w.stmt(`var m_tile: f32 = ${negInf};`);
    w.openLoop('kk', bk);
    {
      const kk = ixVar('kk', 0, bk - 1, w.level);
      const cell = `att_s[${w.ix(ixAdd(base, kk))}]`;
      const coords = [...bc, queryC(rowC), keyC(kk)];
      ve.bind(att.qk, coords, w.let(cell, w.level));
      const sc = ve.value(att.scores, coords).code;
      const ok = inBounds(w, key(kk), lk);
      w.stmt(`let sc = ${ok === true ? sc : `select(${negInf}, ${sc}, ${ok})`};`, `${cell} = sc;`, 'm_tile = max(m_tile, sc);');
    }
    w.close();
    w.stmt('let m_new = max(m_run[rr], m_tile);', `let alive = m_new > ${negInf};`);
    w.stmt(`let corr = select(1.0f, exp(m_run[rr] - m_new), alive);`, `att_corr[${w.ix(rowC)}] = corr;`);
    w.stmt('var l_tile: f32 = 0.0f;');
    w.openLoop('kk', bk);
    {
      const cell = w.ix(ixAdd(base, ixVar('kk', 0, bk - 1, w.level)));
      w.stmt(`let p = select(0.0f, exp(att_s[${cell}] - m_new), alive);`, 'l_tile = l_tile + p;', `att_p[${cell}] = ${stage('p')};`);
    }
    w.close();
    w.stmt('l_run[rr] = l_run[rr] * corr + l_tile;', 'm_run[rr] = m_new;');
    if (owned) w.close();
  }
  w.close();
  w.barrier();
  // 4. Per column block of N features: P·V into att_o, then every invocation rescales its
  // accumulators of the block and adds the tile's share.
  for (let jv = 0; jv < blocks; jv++) {
    for (let i = 0; i < fq; i++) {
      fragmentProduct(`pv_${jv}_${i}`, bk / cfg.K,
        { fragment: 'fp', array: 'att_p', offset: (c) => `${rowOffset(i, bk)} + ${c} * ${cfg.K}u`, stride: bk, layout: 'row_major' },
        { fragment: 'fv', array: 'att_kv', offset: (c) => `${c} * ${cfg.K * dvP}u + ${jv * cfg.N}u`, stride: dvP, layout: 'row_major' },
        { array: 'att_o', offset: rowOffset(i, cfg.N), stride: cfg.N });
    }
    w.barrier();
    forTileElements(w, S, bq, cfg.N, (row, _f, idx) => {
      const slot = `${jv * blockSlots}u + e`;
      w.stmt(`o_acc[${slot}] = o_acc[${slot}] * att_corr[${w.ix(row)}] + att_o[${w.ix(idx)}];`);
    });
    w.barrier();
  }
  w.close();

  // Normalise, epilogue, store.
  w.stmt(`for (var rr = 0u; rr < ${w.bound(rowSlots)}; rr += 1u) { let row = lidx + rr * ${S}u; if (row < ${bq}u) { att_l[row] = l_run[rr]; } }`);
  w.barrier();
  for (let jv = 0; jv < blocks; jv++) {
    forTileElements(w, S, bq, cfg.N, (row, col) => {
      const f = ixAddConst(col, jv * cfg.N);
      storeAttentionOutput(w, ve, ctx, att, epi, [...bc, queryC(row), ixMin(f, dv - 1)], `o_acc[${jv * blockSlots}u + e] / att_l[${w.ix(row)}]`,
        allOf([inBounds(w, query(row), lq), inBounds(w, f, dv)]));
    });
  }

  for (const n of att.internal) ve.noteOrigin(n);
  const sourceOps = ve.origins;
  const detail = `${batch > 1 ? `${batch} x ` : ''}Lq ${lq}, Lk ${lk}, D ${dq}, Dv ${dv}; on subgroup matrices ${cfg.M}x${cfg.N}x${cfg.K} ${T}->f32, ` +
    `${bq} queries by ${bk}-key tiles${support.emulate ? ' (emulated in plain WGSL)' : ''}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'attention', detail, sourceOps), workgroupSize: [S, 1, 1], builtins: BUILTINS });
  const flops = 2 * batch * lq * lk * (dq + dv);
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'attention', sourceOps, flops };
}
