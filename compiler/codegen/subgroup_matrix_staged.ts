/**
 * Matmul on subgroup matrices with its operands staged in workgroup memory: the form for the
 * matmuls the direct kernel (subgroup_matrix.ts) cannot take — a prologue folded into a load
 * (LayerNorm and modulation before a transformer's linear, an activation), a weight read
 * through a view (a Linear's `x @ transpose(weight)`), sizes off the fragment grid. A
 * transformer's linears are all of these, so without it they would run on register tiles.
 *
 * Vocabulary
 * - A workgroup is one subgroup and owns FM × FN result fragments, a (FM·M) × (FN·N) tile. For
 *   each chunk of KC = cfg.K · steps along K it copies into workgroup memory, in the config's
 *   component type, A's rows of the tile (`tile_a` [FM·M × KC], row-major) and B's columns
 *   (`tile_b`): row-major [KC × FN·N], or column-major [FN·N × KC] when B is a transposed view
 *   (its K axis is the stored tensor's contiguous one), so that neighbouring invocations read
 *   neighbouring elements either way. Each element's prologue is evaluated once. Rows past M,
 *   columns past N and steps past K are clamped or zero and never stored.
 * - Precision, as for the convolution (subgroup_matrix_conv.ts): B must be read from tensors
 *   stored in the component type (a weight, or an f16 intermediate under f16 storage); on an f16
 *   configuration an A that is not exact in f16 (a prologue's f32 result) is staged as hi and lo
 *   parts and multiplied twice, so it is not rounded a second time.
 * The epilogue runs in the staged store (storeThroughTile).
 */
import type { MatmulNode, Node } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, kernelHeader, newWriter, workgroupCell } from './common.ts';
import { type Ix, ixAdd, ixDelinearize, ixMin, ixScale, ixVar } from './index_expr.ts';
import { allOf, contractionFlops, fillTile, inBounds, zeroPast } from './register_tile.ts';
import { type SubgroupMatrixConfig, type SubgroupMatrixSupport, storeThroughTile } from './subgroup_matrix.ts';
import { readsStoredAs } from './subgroup_matrix_conv.ts';
import { subgroupMatrixOps } from './subgroup_matrix_ops.ts';
import { ValueEmitter } from './values.ts';

/** The heuristic's most fragments per subgroup along M and along N, and the K steps per chunk it aims at. */
const MAX_FRAGMENTS = 2;
const TARGET_CHUNK = 32;

const fragmentsFor = (extent: number, frag: number): number => Math.max(1, Math.min(MAX_FRAGMENTS, Math.ceil(extent / frag)));

/**
 * Whether `b` ([..., K, N]) reads its elements with K the fast axis: a permute that swaps the last
 * two axes of what it reads, seen through expands and reshapes of the leading axes.
 */
export function transposedRead(b: Node): boolean {
  const r = b.shape.length;
  let n: Node = b;
  while ((n.op === 'expand' || n.op === 'reshape') && n.src[0].shape.length >= 2) {
    const s = n.src[0].shape;
    if (s[s.length - 1] !== b.shape[r - 1] || s[s.length - 2] !== b.shape[r - 2]) return false;
    n = n.src[0];
  }
  if (n.op !== 'permute') return false;
  const p = n.perm;
  const q = p.length;
  return p[q - 1] === q - 2 && p[q - 2] === q - 1;
}

interface Fit {
  readonly cfg: SubgroupMatrixConfig;
  readonly T: 'f32' | 'f16';
  readonly splitA: boolean;
}

/** Why `mm` cannot run staged on `cfg`, or how it runs there. */
function fit(mm: MatmulNode, ctx: GenContext, cfg: SubgroupMatrixConfig): Fit | string {
  if (cfg.resultComponentType !== 'f32') return `the config accumulates in ${cfg.resultComponentType}, not f32`;
  const T = cfg.componentType;
  if (T !== 'f32' && T !== 'f16') return `${T} operands`;
  const [a, b] = mm.src;
  if (!readsStoredAs(T, b, ctx)) return 'B is not read from tensors stored in the config\'s component type';
  return { cfg, T, splitA: T === 'f16' && !readsStoredAs('f16', a, ctx) };
}

/** The kernel on the first configuration that fits, or undefined (use the register-tiled kernel). */
export function generateStagedSubgroupMatrixMatmul(name: string, epi: Epilogue, ctx: GenContext, support: SubgroupMatrixSupport, fragments?: readonly [number, number]): GeneratedKernel | undefined {
  const mm = epi.anchor as MatmulNode;
  const found = support.configs.map((c) => fit(mm, ctx, c)).find((f): f is Fit => typeof f !== 'string');
  if (!found) return undefined;
  const { cfg, T, splitA } = found;
  const [a, b] = mm.src;
  const r = mm.shape.length;
  const batchShape = mm.shape.slice(0, r - 2);
  const [m, n, k] = [mm.shape[r - 2], mm.shape[r - 1], a.shape[r - 1]];
  const batch = numel(batchShape);
  const fm = fragments?.[0] ?? fragmentsFor(m, cfg.M);
  const fn = fragments?.[1] ?? fragmentsFor(n, cfg.N);
  const [tileM, tileN] = [fm * cfg.M, fn * cfg.N];
  const S = support.subgroupMaxSize;
  const bT = transposedRead(b);
  const aParts = splitA ? ['tile_a', 'tile_a_lo'] : ['tile_a'];

  const w = newWriter(ctx);
  const bytesFor = (kc: number): number => (T === 'f16' ? 2 : 4) * (aParts.length * tileM * kc + kc * tileN) + 4 * tileM * tileN;
  let kc = Math.max(cfg.K, Math.floor(TARGET_CHUNK / cfg.K) * cfg.K);
  while (bytesFor(kc) > w.workgroupBytesLeft() && kc > cfg.K) kc -= cfg.K;
  if (bytesFor(kc) > w.workgroupBytesLeft()) return undefined;
  const chunks = Math.ceil(k / kc);

  const ops = subgroupMatrixOps(w, cfg, T, support.emulate === true, S);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(mm);
  const { grid, cell: [bi, ti, tj] } = workgroupCell(w, ctx.target, [batch, Math.ceil(m / tileM), Math.ceil(n / tileN)]);
  const bc = ixDelinearize(bi, batchShape);
  const row0 = ixScale(ti, tileM);
  const col0 = ixScale(tj, tileN);
  for (const part of aParts) w.workgroupArray(part, T, tileM * kc);
  w.workgroupArray('tile_b', T, kc * tileN);
  const acc = (i: number, j: number): string => `acc_${i}_${j}`;
  for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) ops.zeroResult(acc(i, j));

  w.openLoop('c0', chunks);
  const k0 = ixScale(ixVar('c0', 0, chunks - 1, w.level), kc);
  const stage = (v: string): string => (T === 'f16' ? `f16(${v})` : v);
  // Step kk of the chunk: clamped for the load, zero past K (a last, partial chunk).
  const step = (kk: Ix, load: (kStep: Ix) => string): string => {
    const kStep = ixAdd(k0, kk);
    return zeroPast(w, load(ixMin(kStep, k - 1)), kStep, k);
  };
  fillTile(w, aParts, tileM, kc, S, (row, kk) => {
    const v = step(kk, (ks) => ve.value(a, [...bc, ixMin(ixAdd(row0, row), m - 1), ks]).code);
    if (!splitA) return stage(v);
    // hi: v with its mantissa cut to f16's 10 bits by a mask (shader compilers fold f32(f16(v)) to v).
    const whole = w.let(v, w.level);
    const hi = w.let(`bitcast<f32>(bitcast<u32>(${whole}) & 0xffffe000u)`, w.level);
    return [stage(hi), stage(`${whole} - ${hi}`)];
  });
  const bValue = (kk: Ix, col: Ix): string => stage(step(kk, (ks) => ve.value(b, [...bc, ks, ixMin(ixAdd(col0, col), n - 1)]).code));
  if (bT) fillTile(w, 'tile_b', tileN, kc, S, (col, kk) => bValue(kk, col));
  else fillTile(w, 'tile_b', kc, tileN, S, (kk, col) => bValue(kk, col));
  w.barrier();
  w.openLoop('kk', kc / cfg.K);
  for (let j = 0; j < fn; j++) {
    if (bT) ops.load(`frag_b${j}`, 'right', 'tile_b', `${j * cfg.N * kc}u + kk * ${cfg.K}u`, kc, 'col_major');
    else ops.load(`frag_b${j}`, 'right', 'tile_b', `kk * ${cfg.K * tileN}u + ${j * cfg.N}u`, tileN, 'row_major');
  }
  aParts.forEach((part, p) => {
    for (let i = 0; i < fm; i++) ops.load(`frag_a${p}_${i}`, 'left', part, `${i * cfg.M * kc}u + kk * ${cfg.K}u`, kc, 'row_major');
    for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) ops.multiplyAccumulate(acc(i, j), `frag_a${p}_${i}`, `frag_b${j}`);
  });
  w.close();
  w.barrier();
  w.close();

  const out = ctx.tensorOf(epi.end);
  storeThroughTile(w, ve, epi, out, { ops, acc, fm, fn, cfg, S },
    (rr, cc) => [...bc, ixMin(ixAdd(row0, rr), m - 1), ixMin(ixAdd(col0, cc), n - 1)],
    (rr, cc) => allOf([inBounds(w, ixAdd(row0, rr), m), inBounds(w, ixAdd(col0, cc), n)]));

  const sourceOps = ve.origins;
  const detail = `matmul ${batch > 1 ? `${batch} x ` : ''}${m}x${k} @ ${k}x${n} on subgroup matrices ${cfg.M}x${cfg.N}x${cfg.K} ${T}->f32, ${fm}x${fn} fragments per subgroup, ` +
    `operands staged by ${kc} steps${splitA ? ' (A as hi and lo parts)' : ''}${bT ? ', B transposed' : ''}, staged store${support.emulate ? ' (emulated in plain WGSL)' : ''}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [S, 1, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps, flops: contractionFlops(mm, k) };
}
