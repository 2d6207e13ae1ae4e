/**
 * Matmul kernels: C[...b, M, N] = Σ_k A[...b, M, k] · B[...b, k, N] with workgroup tiles and
 * per-thread register tiles (tile.ts). Operands are inlined expressions (their prologue:
 * permuted or broadcast views, scaling, ...) loaded per element; rows and columns past the
 * edge are clamped for loading and skipped at the store; the epilogue runs at the store.
 */
import type { MatmulNode } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, newWriter, kernelHeader, workgroupCell } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixConst, ixDelinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { accumulate, contractionFlops, declareAccumulators, inBounds, storeTile } from './register_tile.ts';
import { type TileConfig, defaultContractionTile } from './tile.ts';
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
    (i, j) => {
      const g = [inBounds(w, rows[i], m), inBounds(w, cols[j], n)].filter((x): x is string => x !== true);
      return g.length ? g.join(' && ') : true;
    });

  const sourceOps = ve.origins;
  const detail = `matmul ${batch > 1 ? `${batch} x ` : ''}${m}x${k} @ ${k}x${n}, tile ${tm}x${tn} regs ${t.rm}x${t.rn}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [t.wgN, t.wgM, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps, flops: contractionFlops(mm, k) };
}
