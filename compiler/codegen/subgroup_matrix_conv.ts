/**
 * Convolution as implicit GEMM on subgroup matrices (tensor cores); the matmul's counterpart
 * (subgroup_matrix.ts), for the operation the VAE is made of.
 *
 * M = consecutive output positions along the last spatial axis (one row), N = output channels,
 * K = input channels × kernel taps. A workgroup is one subgroup and owns FM × FN result
 * fragments: (FM·M) positions of one row by (FN·N) channels. For each chunk of cfg.K input
 * channels and each row of taps (all kernel axes but the last), the subgroup copies into
 * workgroup memory, in the config's component type:
 * - the inputs its positions read, channel-major (`tile_x[c · span + q]`, span = FM·M - 1 + k
 *   along the last axis), with the prologue (GroupNorm, SiLU, replicate pad, upsampling views)
 *   applied once per element, and zeros for channels past Cin;
 * - that row of taps' weights (`tile_w[(tap · K + c) · FN·N + n]`).
 * Then for each last-axis tap t the left fragment (positions × channels) is the column-major
 * block of tile_x starting at position i·M + t (stride span), and the right fragment the
 * row-major block of tile_w at tap t. Positions past the row and channels past Cout are
 * computed from clamped inputs and not stored; the epilogue runs in the staged store.
 *
 * It takes a convolution with stride 1 along the last axis (a fragment's positions must be
 * consecutive in tile_x) whose weight is stored in the config's component type, on a config
 * accumulating in f32. On an f16 config, inputs that are not exact in f16 (a prologue's f32
 * result, an f32 tensor) are staged as two parts, hi (v cut to f16's mantissa) and lo =
 * f16(v - hi), multiplied by the same weights: twice the multiplies, but the activations are
 * not rounded a second time, only their low part is (on the tiny autoencoder in f16, rounding
 * them at staging took 'forward' from 2.3e-3 to 3.5e-3 relative L2, past Kiln's f16 bound).
 * Inputs read straight from tensors stored in f16, through views only (padding, upsampling,
 * slices), are exact and staged once.
 */
import type { ConvNode, Node } from '../ir.ts';
import { numel, OP_CATEGORY } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, kernelHeader, newWriter, workgroupCell } from './common.ts';
import { convShape } from './conv.ts';
import { type Ix, ixAdd, ixDelinearize, ixDiv, ixMin, ixMod, ixScale, ixVar } from './index_expr.ts';
import { allOf, contractionFlops, fillTile, inBounds, zeroPast } from './register_tile.ts';
import { type SubgroupMatrixConfig, type SubgroupMatrixSupport, storeThroughTile } from './subgroup_matrix.ts';
import { subgroupMatrixOps } from './subgroup_matrix_ops.ts';
import { ValueEmitter } from './values.ts';

/** The heuristic's most fragments per subgroup along positions and along channels. */
const MAX_FRAGMENTS = 2;

/** Fragments along one axis: up to MAX_FRAGMENTS, no more than `extent` needs. */
const fragmentsFor = (extent: number, frag: number): number => Math.max(1, Math.min(MAX_FRAGMENTS, Math.ceil(extent / frag)));

/**
 * True if `n` only reads tensors stored as `T`, through views (a channels-last weight copy,
 * padding, upsampling, slices) and a pad's constant zeros: every value of `n` is one of T.
 */
export function readsStoredAs(T: 'f32' | 'f16', n: Node, ctx: GenContext): boolean {
  const t = ctx.storage.tensorOf(n);
  if (t !== undefined) return (ctx.storageOf?.(t) ?? n.dtype) === T;
  if (n.op === 'const') return n.value === 0;
  return OP_CATEGORY[n.op] === 'view' && n.src.every((s) => readsStoredAs(T, s, ctx));
}

/** Why `conv` cannot run on `cfg`, or the operand type it runs in there. */
function fit(conv: ConvNode, ctx: GenContext, cfg: SubgroupMatrixConfig): { readonly T: 'f32' | 'f16' } | string {
  const { wt, nd } = convShape(conv);
  if (cfg.resultComponentType !== 'f32') return `the config accumulates in ${cfg.resultComponentType}, not f32`;
  const T = cfg.componentType;
  if (T !== 'f32' && T !== 'f16') return `${T} operands`;
  if (conv.stride[nd - 1] !== 1) return 'stride along the last axis';
  if (!readsStoredAs(T, wt, ctx)) return 'the weight is not read from a tensor stored in the config\'s component type';
  return { T };
}

/** The kernel on the first configuration that fits, or undefined (use the register-tiled kernel). */
export function generateSubgroupMatrixConv(name: string, epi: Epilogue, ctx: GenContext, support: SubgroupMatrixSupport, fragments?: readonly [number, number]): GeneratedKernel | undefined {
  const conv = epi.anchor as ConvNode;
  const found = support.configs.map((cfg) => ({ cfg, f: fit(conv, ctx, cfg) })).find((c) => typeof c.f !== 'string');
  if (!found || typeof found.f === 'string') return undefined;
  const { cfg, f: { T } } = found;
  const { x, wt, nd, batch, cout, cin, outSpatial, taps, inLast } = convShape(conv);
  const last = outSpatial[nd - 1];
  const kLast = taps[nd - 1];
  const fm = fragments?.[0] ?? fragmentsFor(last, cfg.M);
  const fn = fragments?.[1] ?? fragmentsFor(cout, cfg.N);
  const tileM = fm * cfg.M;
  const tileN = fn * cfg.N;
  const span = tileM - 1 + kLast;
  const K = cfg.K;
  const S = support.subgroupMaxSize;
  const rows = batch * numel(outSpatial.slice(0, -1));
  const segsPerRow = Math.ceil(last / tileM);
  const tilesN = Math.ceil(cout / tileN);
  const chunks = Math.ceil(cin / K);
  const outer = taps.slice(0, -1);
  const nOuter = numel(outer);

  const w = newWriter(ctx);
  // Inputs staged whole, or as hi and lo parts (see the header; every f32 value is exact in f32).
  const split = T === 'f16' && !readsStoredAs('f16', x, ctx);
  const parts = split ? ['tile_x', 'tile_x_lo'] : ['tile_x'];
  // Staged inputs and weights, and the f32 result tile of the staged store.
  const bytes = (T === 'f16' ? 2 : 4) * (parts.length * K * span + kLast * K * tileN) + 4 * tileM * tileN;
  if (bytes > w.workgroupBytesLeft()) return undefined;
  const ops = subgroupMatrixOps(w, cfg, T, support.emulate === true, S);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(conv);
  const { grid, cell: [row, seg, tj] } = workgroupCell(w, ctx.target, [rows, segsPerRow, tilesN]);
  const rowCoords = ixDelinearize(row, [batch, ...outSpatial.slice(0, -1)]);
  const pos0 = ixScale(seg, tileM);
  const ch0 = ixScale(tj, tileN);
  for (const part of parts) w.workgroupArray(part, T, K * span);
  w.workgroupArray('tile_w', T, kLast * K * tileN);
  const acc = (i: number, j: number): string => `acc_${i}_${j}`;
  for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) ops.zeroResult(acc(i, j));

  w.openLoop('c0', chunks);
  const c0 = ixScale(ixVar('c0', 0, chunks - 1, w.level), K);
  w.openLoop('tap', nOuter);
  const outerTap = ixDelinearize(ixVar('tap', 0, nOuter - 1, w.level), outer);
  const spatialOuter = rowCoords.slice(1).map((o, a) => ixAdd(ixScale(o, conv.stride[a]), outerTap[a]));
  const stage = (v: string): string => (T === 'f16' ? `f16(${v})` : v);
  // Channel cc of the chunk: clamped for the load, zero past Cin (a last, partial chunk).
  const channel = (cc: Ix, load: (ci: Ix) => string): string => {
    const ci = ixAdd(c0, cc);
    return zeroPast(w, load(ixMin(ci, cin - 1)), ci, cin);
  };
  const input = (cc: Ix, q: Ix): string => channel(cc, (ci) => ve.value(x, [rowCoords[0], ci, ...spatialOuter, ixMin(ixAdd(pos0, q), inLast - 1)]).code);
  fillTile(w, parts, K, span, S, (cc, q) => {
    if (!split) return stage(input(cc, q));
    // hi: v with its mantissa cut to T's 10 bits, by bit operations: shader compilers fold
    // f32(f16(v)) to v (lavapipe's did, zeroing every lo), but not a mask. Then v - hi is exact.
    const v = w.let(input(cc, q), w.level);
    const hi = w.let(`bitcast<f32>(bitcast<u32>(${v}) & 0xffffe000u)`, w.level);
    return [stage(hi), stage(`${v} - ${hi}`)];
  });
  fillTile(w, 'tile_w', kLast * K, tileN, S, (r, n) => stage(channel(ixMod(r, K), (ci) =>
    ve.value(wt, [ixMin(ixAdd(ch0, n), cout - 1), ci, ...outerTap, ixDiv(r, K)]).code)));
  w.barrier();
  for (let t = 0; t < kLast; t++) {
    for (let j = 0; j < fn; j++) ops.load(`frag_b${t}_${j}`, 'right', 'tile_w', `${t * K * tileN + j * cfg.N}u`, tileN, 'row_major');
    parts.forEach((part, p) => {
      for (let i = 0; i < fm; i++) ops.load(`frag_a${t}_${p}_${i}`, 'left', part, `${i * cfg.M + t}u`, span, 'col_major');
      for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) ops.multiplyAccumulate(acc(i, j), `frag_a${t}_${p}_${i}`, `frag_b${t}_${j}`);
    });
  }
  w.barrier();
  w.close();
  w.close();

  // Rows of the result are positions, columns channels.
  const out = ctx.tensorOf(epi.end);
  const position = (r: Ix): Ix => ixAdd(pos0, r);
  const channelOf = (c: Ix): Ix => ixAdd(ch0, c);
  storeThroughTile(w, ve, epi, out, { ops, acc, fm, fn, cfg, S },
    (r, c) => [rowCoords[0], ixMin(channelOf(c), cout - 1), ...rowCoords.slice(1), ixMin(position(r), last - 1)],
    (r, c) => allOf([inBounds(w, position(r), last), inBounds(w, channelOf(c), cout)]));

  const sourceOps = ve.origins;
  const k = cin * numel(taps);
  const detail = `conv${nd}d ${cin}->${cout} kernel ${taps.join('x')} stride ${conv.stride.join('x')}, implicit GEMM on subgroup matrices ` +
    `${cfg.M}x${cfg.N}x${cfg.K} ${T}->f32, ${fm}x${fn} fragments per subgroup, ${tileM} positions by ${tileN} channels, ` +
    `inputs${split ? ' (as hi and lo parts)' : ''} and weights staged by ${K} channels${support.emulate ? ' (emulated in plain WGSL)' : ''}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [S, 1, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps, flops: contractionFlops(conv, k) };
}

