/**
 * Matmul kernels: C[...b, M, N] = Σ_k A[...b, M, k] · B[...b, k, N] with workgroup tiles and
 * per-thread register tiles (tile.ts). Operands are inlined expressions (their prologue:
 * permuted or broadcast views, scaling, ...); rows and columns past the edge are clamped for
 * loading and skipped at the store; the epilogue runs at the store. Two forms:
 * - direct (CPU adapters): each thread loads its operands from storage, vec4 where aligned;
 * - staged (GPUs, TileConfig.stageK): the workgroup stages chunks of K of its rows of A and
 *   columns of B in workgroup memory, each element's prologue evaluated once (stagedLoop).
 */
import type { MatmulNode, Node } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, newWriter, kernelHeader, workgroupCell } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixConst, ixDelinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { accumulate, allOf, contractionFlops, declareAccumulators, fillTile, inBounds, storeTile, zeroPast } from './register_tile.ts';
import { type TileConfig, defaultContractionTile } from './tile.ts';
import type { KernelWriter } from './writer.ts';
import { ValueEmitter } from './values.ts';

export function generateMatmul(name: string, epi: Epilogue, ctx: GenContext, tileOverride?: TileConfig): GeneratedKernel {
  const mm = epi.anchor as MatmulNode;
  const [a, b] = mm.src;
  const r = mm.shape.length;
  const batchShape = mm.shape.slice(0, r - 2);
  const m = mm.shape[r - 2];
  const n = mm.shape[r - 1];
  const k = a.shape[r - 1];
  const t = tileOverride ?? ctx.tiles?.contraction ?? defaultContractionTile(ctx.target, m, n);
  const tm = t.wgM * t.rm;
  const tn = t.wgN * t.rn;
  const tilesM = Math.ceil(m / tm);
  const tilesN = Math.ceil(n / tn);
  const batch = numel(batchShape);

  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(mm);
  const { grid, cell: [bi, ti, tj] } = workgroupCell(w, ctx.target, [batch, tilesM, tilesN]);
  const bc = ixDelinearize(bi, batchShape);
  const ty = ixVar('lid.y', 0, t.wgM - 1, 0);
  const tx = ixVar('lid.x', 0, t.wgN - 1, 0);
  if ((t.stageK ?? 0) > 0 && mm.dtype === 'f32') {
    const setup = { w, ve, bc, ty, tx, row0: ixScale(ti, tm), col0: ixScale(tj, tn), m, n, k };
    stagedLoop(setup, a, b, t, epi, ctx);
    const detail = `matmul ${batch > 1 ? `${batch} x ` : ''}${m}x${k} @ ${k}x${n}, tile ${tm}x${tn} regs ${t.rm}x${t.rn}, K staged in workgroup memory by ${t.stageK}`;
    const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, ve.origins), workgroupSize: [t.wgN, t.wgM, 1], builtins: BUILTINS });
    return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps: ve.origins, flops: contractionFlops(mm, k) };
  }
  const rows: Ix[] = [];
  const cols: Ix[] = [];
  for (let i = 0; i < t.rm; i++) rows.push(ixAddConst(ixAdd(ixScale(ti, tm), ixScale(ty, t.rm)), i));
  for (let j = 0; j < t.rn; j++) cols.push(ixAddConst(ixAdd(ixScale(tj, tn), ixScale(tx, t.rn)), j));
  const rowsC = rows.map((x) => ixMin(x, m - 1));
  const colsC = cols.map((x) => ixMin(x, n - 1));
  const acc = declareAccumulators(w, t.rm, t.rn);

  // The operands of a stretch of K steps (unrolled), then their fmas accumulator by accumulator.
  const stretch = (ks: readonly Ix[]): void => {
    const av: string[][] = [];
    const bv: string[][] = [];
    for (const kk of ks) {
      // Groups of four consecutive columns of B: one vec4 load each when aligned.
      for (let j = 0; j + 4 <= t.rn; j += 4) ve.prefetch(b, colsC.slice(j, j + 4).map((col) => [...bc, kk, col]));
      av.push(rowsC.map((row) => ve.value(a, [...bc, row, kk]).code));
      bv.push(colsC.map((col) => ve.value(b, [...bc, kk, col]).code));
    }
    accumulate(w, acc, av, bv);
  };
  const u = Math.max(1, t.unrollK);
  const main = Math.floor(k / u);
  if (main > 0) {
    w.openLoop('k0', main);
    const k0 = ixVar('k0', 0, main - 1, w.level);
    // Four consecutive k of a row of A: one vec4 load each when aligned.
    if (u % 4 === 0) {
      for (let s = 0; s < u; s += 4) {
        for (const row of rowsC) ve.prefetch(a, [0, 1, 2, 3].map((q) => [...bc, row, ixAddConst(ixScale(k0, u), s + q)]));
      }
    }
    stretch(Array.from({ length: u }, (_, s) => ixAddConst(ixScale(k0, u), s)));
    w.close();
  }
  if (main * u < k) stretch(Array.from({ length: k - main * u }, (_, s) => ixConst(main * u + s)));

  storeTile(w, ve, epi, ctx.tensorOf(epi.end), acc,
    (i, j) => [...bc, rowsC[i], colsC[j]],
    (i, j) => allOf([inBounds(w, rows[i], m), inBounds(w, cols[j], n)]));

  const sourceOps = ve.origins;
  const detail = `matmul ${batch > 1 ? `${batch} x ` : ''}${m}x${k} @ ${k}x${n}, tile ${tm}x${tn} regs ${t.rm}x${t.rn}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [t.wgN, t.wgM, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps, flops: contractionFlops(mm, k) };
}

interface StagedSetup {
  readonly w: KernelWriter;
  readonly ve: ValueEmitter;
  /** Batch coordinates of this workgroup's tile. */
  readonly bc: readonly Ix[];
  readonly ty: Ix;
  readonly tx: Ix;
  /** First row and column of this workgroup's tile of C. */
  readonly row0: Ix;
  readonly col0: Ix;
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/**
 * The staged form (TileConfig.stageK): per chunk of S steps of K, the workgroup's threads copy
 * the tile's rows of A (TM x S) and columns of B (S x TN) into workgroup memory together, each
 * element's prologue evaluated once, steps past K stored as zeros; after a barrier every
 * thread accumulates its rm x rn outputs from there. A thread's rows are ty + i·wgM and its
 * columns tx + j·wgN, so neighbouring threads read neighbouring words of workgroup memory and
 * store neighbouring words of C. Emits the loop and the store.
 */
function stagedLoop(st: StagedSetup, a: Node, b: Node, t: TileConfig, epi: Epilogue, ctx: GenContext): void {
  const { w, ve, bc, ty, tx, row0, col0, m, n, k } = st;
  const S = t.stageK!;
  const TM = t.wgM * t.rm;
  const TN = t.wgN * t.rn;
  const threads = t.wgM * t.wgN;
  w.workgroupArray('tile_a', 'f32', TM * S);
  w.workgroupArray('tile_b', 'f32', S * TN);
  const acc = declareAccumulators(w, t.rm, t.rn);
  const chunks = Math.ceil(k / S);
  w.openLoop('k0', chunks);
  const kBase = ixScale(ixVar('k0', 0, chunks - 1, w.level), S);
  // A chunk of each operand; steps past K are zeros (the last chunk of a K that S does not divide).
  fillTile(w, 'tile_a', TM, S, threads, (r, c) => {
    const kStep = ixAdd(kBase, c);
    return zeroPast(w, ve.value(a, [...bc, ixMin(ixAdd(row0, r), m - 1), ixMin(kStep, k - 1)]).code, kStep, k);
  });
  fillTile(w, 'tile_b', S, TN, threads, (r, c) => {
    const kStep = ixAdd(kBase, r);
    return zeroPast(w, ve.value(b, [...bc, ixMin(kStep, k - 1), ixMin(ixAdd(col0, c), n - 1)]).code, kStep, k);
  });
  w.barrier();
  const av: string[][] = [];
  const bv: string[][] = [];
  for (let s = 0; s < S; s++) {
    av.push(Array.from({ length: t.rm }, (_, i) => w.let(`tile_a[${w.ix(ixAddConst(ixScale(ty, S), i * t.wgM * S + s))}]`, w.level)));
    bv.push(Array.from({ length: t.rn }, (_, j) => w.let(`tile_b[${w.ix(ixAddConst(tx, s * TN + j * t.wgN))}]`, w.level)));
  }
  accumulate(w, acc, av, bv);
  w.barrier();
  w.close();
  const rows = Array.from({ length: t.rm }, (_, i) => ixAdd(row0, ixAddConst(ty, i * t.wgM)));
  const cols = Array.from({ length: t.rn }, (_, j) => ixAdd(col0, ixAddConst(tx, j * t.wgN)));
  storeTile(w, ve, epi, ctx.tensorOf(epi.end), acc,
    (i, j) => [...bc, ixMin(rows[i], m - 1), ixMin(cols[j], n - 1)],
    (i, j) => allOf([inBounds(w, rows[i], m), inBounds(w, cols[j], n)]));
}
