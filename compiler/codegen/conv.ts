/**
 * Convolution kernels as implicit GEMM: M = output positions (batch × output spatial, flattened),
 * N = output channels, K = input channels × kernel taps. Each thread owns rm positions × rn
 * channels of accumulators. The input operand is an inlined expression, so its prologue
 * (replicate pad, GroupNorm's normalise-scale-shift, SiLU, upsampling views) is folded into
 * the loads; loop-invariant parts (per-channel statistics) hoist out of the tap loops by
 * themselves. Bias, residual add and scaling run in the epilogue at the store.
 */
import type { ConvNode } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, newWriter, dispatchGrid, kernelHeader, workgroupIndex } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixConst, ixDelinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { accumulate, contractionFlops, declareAccumulators, inBounds, storeTile } from './register_tile.ts';
import { type TileConfig, defaultContractionTile } from './tile.ts';
import { ValueEmitter } from './values.ts';

export function generateConv(name: string, epi: Epilogue, ctx: GenContext, tileOverride?: TileConfig): GeneratedKernel {
  const conv = epi.anchor as ConvNode;
  const [x, wt] = conv.src;
  const nd = conv.shape.length - 2;
  const [batch, cout] = conv.shape;
  const cin = x.shape[1];
  const outSpatial = conv.shape.slice(2);
  const taps = wt.shape.slice(2);
  const m = batch * numel(outSpatial);
  const n = cout;
  const k = cin * numel(taps);
  const t = tileOverride ?? ctx.tiles?.contraction ?? defaultContractionTile(ctx.target, m, n, k, numel(taps));
  const tm = t.wgM * t.rm;
  const tn = t.wgN * t.rn;
  const tilesM = Math.ceil(m / tm);
  const tilesN = Math.ceil(n / tn);

  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(conv);
  const count = tilesM * tilesN;
  const grid = dispatchGrid(count, ctx.target);
  const wg = workgroupIndex(w, grid, count);
  const [ti, tj] = ixDelinearize(wg, [tilesM, tilesN]);
  const ty = ixVar('lid.y', 0, t.wgM - 1, 0);
  const tx = ixVar('lid.x', 0, t.wgN - 1, 0);
  const pos: Ix[] = [];
  const ch: Ix[] = [];
  for (let i = 0; i < t.rm; i++) pos.push(ixAddConst(ixAdd(ixScale(ti, tm), ixScale(ty, t.rm)), i));
  for (let j = 0; j < t.rn; j++) ch.push(ixAddConst(ixAdd(ixScale(tj, tn), ixScale(tx, t.rn)), j));
  // Per position: batch index and output spatial coordinates (clamped for safe loads).
  const posCoords = pos.map((p) => ixDelinearize(ixMin(p, m - 1), [batch, ...outSpatial]));
  const chC = ch.map((c) => ixMin(c, n - 1));
  const acc = declareAccumulators(w, t.rm, t.rn);

  w.openLoop('ci', cin);
  const ci = ixVar('ci', 0, cin - 1, w.level);
  const tapLoop = (axis: number, tap: Ix[]): void => {
    if (axis === nd) {
      const xv = posCoords.map((pc) => {
        const spatial = tap.map((kk, a) => ixAdd(ixScale(pc[1 + a], conv.stride[a]), kk));
        return ve.value(x, [pc[0], ci, ...spatial]).code;
      });
      const wv = chC.map((c) => ve.value(wt, [c, ci, ...tap]).code);
      accumulate(w, acc, xv, wv);
      return;
    }
    const size = taps[axis];
    if (t.unrollTaps || size === 1) {
      for (let s = 0; s < size; s++) tapLoop(axis + 1, [...tap, ixConst(s)]);
    } else {
      const v = `k${axis}`;
      w.openLoop(v, size);
      tapLoop(axis + 1, [...tap, ixVar(v, 0, size - 1, w.level)]);
      w.close();
    }
  };
  const nTaps = numel(taps);
  if (!t.unrollTaps && nd > 1 && nTaps > 1) {
    // One loop over all taps, decoded by division: nested 3-trip loops get fully unrolled by
    // LLVM (lavapipe), multiplying shader-compile time by ~3-10 for no run-time gain.
    w.openLoop('tap', nTaps);
    tapLoop(nd, ixDelinearize(ixVar('tap', 0, nTaps - 1, w.level), taps));
    w.close();
  } else {
    tapLoop(0, []);
  }
  w.close();

  storeTile(w, ve, epi, ctx.tensorOf(epi.end), acc,
    (i, j) => [posCoords[i][0], chC[j], ...posCoords[i].slice(1)],
    (i, j) => {
      const g = [inBounds(w, pos[i], m), inBounds(w, ch[j], n)].filter((c): c is string => c !== true);
      return g.length ? g.join(' && ') : true;
    });

  const sourceOps = ve.origins;
  const detail = `conv${nd}d ${cin}->${cout} kernel ${taps.join('x')} stride ${conv.stride.join('x')}, implicit GEMM ${m}x${k} @ ${k}x${n}, tile ${tm}x${tn} regs ${t.rm}x${t.rn}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [t.wgN, t.wgM, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, kind: 'contraction', sourceOps, flops: contractionFlops(conv, k) };
}
