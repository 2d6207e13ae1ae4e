/**
 * Convolution kernels as implicit GEMM: M = output positions, N = output channels, K = input
 * channels × kernel taps. Each thread owns rm positions × rn channels of accumulators.
 *
 * Vocabulary
 * - Row: the output positions that differ only in the last spatial axis (batch and all other
 *   output coordinates fixed). A thread's rm positions are consecutive along one row (a
 *   *segment*; the last segment of a row may overhang it and is clamped, not stored).
 * - Tap: one kernel offset. The last kernel axis is unrolled and the others run as one flat
 *   loop: with consecutive positions and unrolled last-axis taps, the input element at
 *   position i, tap t is the one at position i+1, tap t-1 (stride 1), and common-
 *   subexpression elimination loads it, and evaluates its prologue, once: rm + k - 1 loads
 *   per row of taps instead of rm·k.
 * The input operand is an inlined expression, so its prologue (replicate pad, GroupNorm's
 * normalise-scale-shift, SiLU, upsampling views) is folded into the loads; loop-invariant
 * parts (per-channel statistics) hoist out of the tap loop by themselves. Bias, residual add
 * and scaling run in the epilogue at the store.
 * - Staged (TileConfig.stageK > 0, a GPU tuner candidate): inputs and weights go through
 *   workgroup memory, a chunk of input channels at a time (stagedConvLoop).
 */
import type { ConvNode } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, dispatchGrid, kernelHeader, newWriter, workgroupIndex } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixConst, ixDelinearize, ixDiv, ixMin, ixMod, ixScale, ixVar } from './index_expr.ts';
import { accumulate, allOf, contractionFlops, declareAccumulators, fillTile, inBounds, storeTile, zeroPast } from './register_tile.ts';
import { type TileConfig, defaultContractionTile } from './tile.ts';
import { ValueEmitter } from './values.ts';
import type { KernelWriter } from './writer.ts';

/** A convolution's operands and sizes, as every form reads them. */
export function convShape(conv: ConvNode) {
  const [x, wt] = conv.src;
  const nd = conv.shape.length - 2;
  const [batch, cout] = conv.shape;
  const outSpatial = conv.shape.slice(2);
  return {
    x, wt, nd, batch, cout, outSpatial,
    cin: x.shape[1],
    taps: wt.shape.slice(2),
    /** The input's last axis (padding included: the pad is a view in the prologue). */
    inLast: x.shape[x.shape.length - 1],
    strideLast: conv.stride[nd - 1],
  };
}

export function generateConv(name: string, epi: Epilogue, ctx: GenContext, tileOverride?: TileConfig): GeneratedKernel {
  const conv = epi.anchor as ConvNode;
  const { x, wt, nd, batch, cout, cin, outSpatial, taps, inLast, strideLast } = convShape(conv);
  const last = outSpatial[nd - 1];
  const m = batch * numel(outSpatial);
  const k = cin * numel(taps);
  const t = tileOverride ?? ctx.tiles?.contraction ?? defaultContractionTile(ctx.target, m, cout, last);
  const rows = batch * numel(outSpatial.slice(0, -1));
  const segsPerRow = Math.ceil(last / t.rm);
  const segs = rows * segsPerRow;
  const tn = t.wgN * t.rn;
  const tilesM = Math.ceil(segs / t.wgM);
  const tilesN = Math.ceil(cout / tn);

  const w = newWriter(ctx);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(conv);
  const count = tilesM * tilesN;
  const grid = dispatchGrid(count, ctx.target);
  const wg = workgroupIndex(w, grid, count);
  const [ti, tj] = ixDelinearize(wg, [tilesM, tilesN]);
  const ty = ixVar('lid.y', 0, t.wgM - 1, 0);
  const tx = ixVar('lid.x', 0, t.wgN - 1, 0);
  // This thread's segment (clamped: surplus threads compute a copy of the last one, unstored).
  const seg = ixAdd(ixScale(ti, t.wgM), ty);
  const [row, segInRow] = ixDelinearize(ixMin(seg, segs - 1), [rows, segsPerRow]);
  const rowCoords = ixDelinearize(row, [batch, ...outSpatial.slice(0, -1)]);
  const pos: Ix[] = [];
  for (let i = 0; i < t.rm; i++) pos.push(ixAddConst(ixScale(segInRow, t.rm), i));
  const posC = pos.map((p) => ixMin(p, last - 1));
  if ((t.stageK ?? 0) > 0) {
    // Staged (GPUs): inputs and weights through workgroup memory; channels strided by thread.
    const ch = Array.from({ length: t.rn }, (_, j) => ixAdd(ixScale(tj, tn), ixAddConst(tx, j * t.wgN)));
    const chC = ch.map((c) => ixMin(c, cout - 1));
    const acc = declareAccumulators(w, t.rm, t.rn);
    stagedConvLoop({ w, ve, conv, t, ti, tj, ty, tx, rows, segsPerRow, segs, chC }, acc);
    storeConvTile(w, ve, epi, ctx, acc, { seg, segs, pos, posC, last, ch, chC, cout, rowCoords });
    const detail = `conv${nd}d ${cin}->${cout} kernel ${taps.join('x')} stride ${conv.stride.join('x')}, implicit GEMM ${m}x${k} @ ${k}x${cout}; ` +
      `${t.wgM} x ${t.rm}-position segments by ${tn} channels, regs ${t.rm}x${t.rn}, inputs and weights staged in workgroup memory`;
    const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, ve.origins), workgroupSize: [t.wgN, t.wgM, 1], builtins: BUILTINS });
    return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps: ve.origins, flops: contractionFlops(conv, k) };
  }
  const ch: Ix[] = [];
  for (let j = 0; j < t.rn; j++) ch.push(ixAddConst(ixAdd(ixScale(tj, tn), ixScale(tx, t.rn)), j));
  const chC = ch.map((c) => ixMin(c, cout - 1));
  const acc = declareAccumulators(w, t.rm, t.rn);

  w.openLoop('ci', cin);
  const ci = ixVar('ci', 0, cin - 1, w.level);
  const outer = taps.slice(0, -1);
  const nOuter = numel(outer);
  const body = (outerTap: readonly Ix[]): void => {
    const spatialOuter = rowCoords.slice(1).map((o, a) => ixAdd(ixScale(o, conv.stride[a]), outerTap[a]));
    // Four consecutive positions of one tap read four consecutive inputs (stride 1); where
    // they are also 4-aligned and unclamped (typically the centre tap, whose replicate-pad
    // offset cancels) they are one vec4 load, and the other taps find the same elements by
    // key (position i+1, tap t-1 is position i, tap t).
    if (strideLast === 1) {
      for (let kl = 0; kl < taps[nd - 1]; kl++) {
        for (let i = 0; i + 4 <= t.rm; i += 4) {
          ve.prefetch(x, pos.slice(i, i + 4).map((p) => [rowCoords[0], ci, ...spatialOuter, ixMin(ixAddConst(p, kl), inLast - 1)]));
        }
      }
    }
    const xs: string[][] = [];
    const ws: string[][] = [];
    for (let kl = 0; kl < taps[nd - 1]; kl++) {
      xs.push(pos.map((p) => {
        // Unclamped positions keep consecutive loads recognisably equal across taps; the input
        // coordinate itself is clamped so a segment overhanging the row still loads in bounds.
        const xi = ixMin(ixAddConst(ixScale(p, strideLast), kl), inLast - 1);
        return ve.value(x, [rowCoords[0], ci, ...spatialOuter, xi]).code;
      }));
      // Groups of four consecutive output channels: one vec4 load each when the weight is
      // laid out channels-last (weight_layout.ts) and aligned.
      for (let j = 0; j + 4 <= t.rn; j += 4) ve.prefetch(wt, chC.slice(j, j + 4).map((c) => [c, ci, ...outerTap, ixConst(kl)]));
      ws.push(chC.map((c) => ve.value(wt, [c, ci, ...outerTap, ixConst(kl)]).code));
    }
    accumulate(w, acc, xs, ws);
  };
  if (t.unrollTaps || nOuter <= 1) {
    for (let i = 0; i < nOuter; i++) body(ixDelinearize(ixConst(i), outer));
  } else {
    // One flat loop over the other kernel axes: nested 3-trip loops get fully unrolled by LLVM
    // (lavapipe), multiplying shader-compile time for no run-time gain; with opaque bounds
    // they are not unrolled but ran ~20% slower than the flat loop (conv3d 128->128, 8x8 regs).
    w.openLoop('tap', nOuter);
    body(ixDelinearize(ixVar('tap', 0, nOuter - 1, w.level), outer));
    w.close();
  }
  w.close();

  storeConvTile(w, ve, epi, ctx, acc, { seg, segs, pos, posC, last, ch, chC, cout, rowCoords });

  const sourceOps = ve.origins;
  const detail = `conv${nd}d ${cin}->${cout} kernel ${taps.join('x')} stride ${conv.stride.join('x')}, implicit GEMM ${m}x${k} @ ${k}x${cout}; ` +
    `${t.wgM} x ${t.rm}-position segments by ${tn} channels, regs ${t.rm}x${t.rn}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [t.wgN, t.wgM, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps, flops: contractionFlops(conv, k) };
}

interface ConvTileCoords {
  readonly seg: Ix;
  readonly segs: number;
  readonly pos: readonly Ix[];
  readonly posC: readonly Ix[];
  readonly last: number;
  readonly ch: readonly Ix[];
  readonly chC: readonly Ix[];
  readonly cout: number;
  readonly rowCoords: readonly Ix[];
}

/** The epilogue and store of a thread's rm positions x rn channels, guarded where the tile overhangs. */
function storeConvTile(w: KernelWriter, ve: ValueEmitter, epi: Epilogue, ctx: GenContext, acc: readonly string[][], c: ConvTileCoords): void {
  const segOk = inBounds(w, c.seg, c.segs);
  storeTile(w, ve, epi, ctx.tensorOf(epi.end), acc,
    (i, j) => [c.rowCoords[0], c.chC[j], ...c.rowCoords.slice(1), c.posC[i]],
    (i, j) => allOf([segOk, inBounds(w, c.pos[i], c.last), inBounds(w, c.ch[j], c.cout)]));
}

interface StagedConv {
  readonly w: KernelWriter;
  readonly ve: ValueEmitter;
  readonly conv: ConvNode;
  readonly t: TileConfig;
  readonly ti: Ix;
  readonly tj: Ix;
  readonly ty: Ix;
  readonly tx: Ix;
  readonly rows: number;
  readonly segsPerRow: number;
  readonly segs: number;
  /** This thread's (clamped) output channels. */
  readonly chC: readonly Ix[];
}

/**
 * The staged form (TileConfig.stageK > 0, GPUs). For each chunk of stageK input channels and
 * each row of taps (all kernel axes but the last), the workgroup copies into workgroup memory
 * the input span each of its wgM segments reads (rm positions need (rm - 1)·stride + k inputs
 * along the last axis; the prologue is applied once per element, where the direct form
 * evaluates it in each of the wgN threads sharing a segment) and that row of taps' weights for
 * its channels; channels past Cin are zeros. After a barrier each thread accumulates from there.
 */
function stagedConvLoop(sc: StagedConv, acc: readonly string[][]): void {
  const { w, ve, conv, t, ti, tj, ty, tx, rows, segsPerRow, segs, chC } = sc;
  const { x, wt, nd, batch, cout, cin, outSpatial, taps, inLast, strideLast: stride } = convShape(conv);
  const kLast = taps[nd - 1];
  const span = (t.rm - 1) * stride + kLast;
  const tn = t.wgN * t.rn;
  const threads = t.wgM * t.wgN;
  // Input channels per chunk: stageK, fewer where the workgroup memory would not hold them.
  let cs = Math.min(t.stageK!, cin);
  while (cs > 1 && 4 * cs * (t.wgM * span + kLast * tn) > w.workgroupBytesLeft()) cs = Math.ceil(cs / 2);
  w.workgroupArray('tile_x', 'f32', cs * t.wgM * span);
  w.workgroupArray('tile_w', 'f32', cs * kLast * tn);
  const chunks = Math.ceil(cin / cs);
  w.openLoop('c0', chunks);
  const c0 = ixScale(ixVar('c0', 0, chunks - 1, w.level), cs);
  const outer = taps.slice(0, -1);
  const nOuter = numel(outer);
  w.openLoop('tap', nOuter);
  const outerTap = ixDelinearize(ixVar('tap', 0, nOuter - 1, w.level), outer);
  // A channel of the chunk: clamped for the load, zero past Cin (a last, partial chunk).
  const channel = (cc: Ix, load: (ci: Ix) => string): string => {
    const ci = ixAdd(c0, cc);
    return zeroPast(w, load(ixMin(ci, cin - 1)), ci, cin);
  };
  fillTile(w, 'tile_x', cs * t.wgM, span, threads, (r, q) => channel(ixDiv(r, t.wgM), (ci) => {
    // Segment s of this workgroup (clamped like the threads' own), input q of its span.
    const [row, segInRow] = ixDelinearize(ixMin(ixAdd(ixScale(ti, t.wgM), ixMod(r, t.wgM)), segs - 1), [rows, segsPerRow]);
    const rc = ixDelinearize(row, [batch, ...outSpatial.slice(0, -1)]);
    const spatialOuter = rc.slice(1).map((o, a) => ixAdd(ixScale(o, conv.stride[a]), outerTap[a]));
    const xi = ixMin(ixAdd(ixScale(segInRow, t.rm * stride), q), inLast - 1);
    return ve.value(x, [rc[0], ci, ...spatialOuter, xi]).code;
  }));
  fillTile(w, 'tile_w', cs * kLast, tn, threads, (r, c) => channel(ixDiv(r, kLast), (ci) => ve.value(wt, [ixMin(ixAdd(ixScale(tj, tn), c), cout - 1), ci, ...outerTap, ixMod(r, kLast)]).code));
  w.barrier();
  const xs: string[][] = [];
  const ws: string[][] = [];
  for (let cc = 0; cc < cs; cc++) {
    for (let kl = 0; kl < kLast; kl++) {
      xs.push(Array.from({ length: t.rm }, (_, i) => w.let(`tile_x[${w.ix(ixAddConst(ixScale(ty, span), (cc * t.wgM) * span + i * stride + kl))}]`, w.level)));
      // This thread's channels chC[j] = tj·TN + tx + j·wgN: tile column tx + j·wgN.
      ws.push(chC.map((_, j) => w.let(`tile_w[${w.ix(ixAddConst(tx, (cc * kLast + kl) * tn + j * t.wgN))}]`, w.level)));
    }
  }
  accumulate(w, acc, xs, ws);
  w.barrier();
  w.close();
  w.close();
}
