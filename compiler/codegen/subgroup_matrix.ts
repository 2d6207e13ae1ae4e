/**
 * Matmul on subgroup matrices (tensor cores): Dawn's `chromium_experimental_subgroup_matrix`
 * WGSL extension, offered where the adapter reports subgroup-matrix configurations
 * (GPUAdapterInfo.subgroupMatrixConfigs; feature `chromium-experimental-subgroup-matrix`).
 * The configuration types and the staged store are shared with the convolution on subgroup
 * matrices (subgroup_matrix_conv.ts); the operations themselves are written, natively or
 * emulated, by subgroup_matrix_ops.ts.
 *
 * Vocabulary
 * - Config: one shape the hardware multiplies, M×K (left) by K×N (right) into M×N (result),
 *   with the left/right component type and the result component type.
 * - Fragment: one subgroup matrix. A workgroup is one subgroup (x = the adapter's largest
 *   subgroup size, as the extension requires) and owns FM × FN result fragments, i.e. a
 *   (FM·M) × (FN·N) tile of C; per K step it loads FM left and FN right fragments straight
 *   from the storage buffers (row-major, stride K and N) and multiply-accumulates them.
 * - Staged store: with an epilogue (bias, activation, a residual add, a cast) or an output
 *   stored in another type than the result's, the fragments are stored to a workgroup-memory
 *   tile, and each invocation then evaluates the epilogue for its share of the tile's elements
 *   and stores them, as the register-tiled kernel does for its accumulators. Without either,
 *   the fragments are stored to the output directly.
 *
 * It takes a matmul whose operands are stored row-major tensors read as they are (no
 * prologue: no view, scaling or conversion folded into the loads), stored in the config's
 * component type, with sizes that are multiples of the fragment shape, on a configuration that
 * accumulates in f32 (Kiln's rule for f16 storage: f16 accumulators lose too much over long
 * sums). Everything else, and every adapter without configurations (lavapipe included), uses
 * the register-tiled kernel (matmul.ts), which is also the fallback when this returns
 * undefined.
 */
import type { DType, MatmulNode, Node } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type GenContext, type GeneratedKernel, BUILTINS, kernelHeader, newWriter, workgroupCell } from './common.ts';
import { type Ix, ixAdd, ixAddConst, ixDelinearize, ixDiv, ixMin, ixMod, ixScale, ixVar } from './index_expr.ts';
import { allOf, contractionFlops, storeTile } from './register_tile.ts';
import { type SubgroupMatrixOps, subgroupMatrixOps } from './subgroup_matrix_ops.ts';
import { ValueEmitter } from './values.ts';
import type { KernelWriter } from './writer.ts';

export type SubgroupMatrixComponent = 'f32' | 'f16' | 'u32' | 'i32' | 'u8' | 'i8';

export interface SubgroupMatrixConfig {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly componentType: SubgroupMatrixComponent;
  readonly resultComponentType: SubgroupMatrixComponent;
}

export interface SubgroupMatrixSupport {
  readonly configs: readonly SubgroupMatrixConfig[];
  /** GPUAdapterInfo.subgroupMaxSize: the workgroup's x size must be a multiple of it. */
  readonly subgroupMaxSize: number;
  /**
   * Write the subgroup-matrix operations as plain WGSL (subgroup_matrix_ops.ts) rather than
   * Dawn's builtins: the same results, slowly, on any adapter; for testing the kernels where no
   * adapter has subgroup matrices. Never set for real runs.
   */
  readonly emulate?: boolean;
}

/** The heuristic's most result fragments per workgroup along M and along N (fewer where the size needs it). */
const MAX_FRAGMENTS = 2;

/**
 * A tuned choice: result fragments per subgroup along M and N (a size they do not divide falls
 * back to the heuristic's; for attention, query-row and key fragments of its scores), or `off`:
 * the register-tiled (or scalar) kernel even where a configuration fits.
 */
export type SubgroupMatrixTiles = { readonly fragments: readonly [number, number] } | 'off';

interface Fit {
  readonly cfg: SubgroupMatrixConfig;
  /** The operands' storage type (the config's component type). */
  readonly component: 'f32' | 'f16';
  readonly fm: number;
  readonly fn: number;
}

/** Fragments along one axis: the most (up to MAX_FRAGMENTS) whose tile divides `size`. */
function defaultFragments(size: number, frag: number): number {
  for (let f = MAX_FRAGMENTS; f > 1; f--) if (size % (f * frag) === 0) return f;
  return 1;
}

/** Why `mm` cannot run on `cfg`, or how it runs there (`fragments`: a tuned choice). */
function fit(mm: MatmulNode, ctx: GenContext, cfg: SubgroupMatrixConfig, fragments?: readonly [number, number]): Fit | string {
  const [a, b] = mm.src;
  const ta = ctx.storage.tensorOf(a);
  const tb = ctx.storage.tensorOf(b);
  if (ta === undefined || tb === undefined) return 'an operand is computed in the kernel (prologue)';
  if (ctx.storage.packOf?.(a) || ctx.storage.packOf?.(b)) return 'an operand is stored interleaved with another tensor';
  if (cfg.resultComponentType !== 'f32') return `the config accumulates in ${cfg.resultComponentType}, not f32`;
  const component = cfg.componentType;
  if (component !== 'f32' && component !== 'f16') return `${component} operands`;
  const r = mm.shape.length;
  const [m, n, k] = [mm.shape[r - 2], mm.shape[r - 1], a.shape[r - 1]];
  if (m % cfg.M !== 0 || n % cfg.N !== 0 || k % cfg.K !== 0) return 'its sizes are not multiples of the fragment shape';
  const stored = (node: Node, t: number): DType => ctx.storageOf?.(t) ?? node.dtype;
  if (stored(a, ta) !== component || stored(b, tb) !== component) return 'operand storage differs from the config\'s component type';
  if (fragments && m % (fragments[0] * cfg.M) === 0 && n % (fragments[1] * cfg.N) === 0) return { cfg, component, fm: fragments[0], fn: fragments[1] };
  return { cfg, component, fm: defaultFragments(m, cfg.M), fn: defaultFragments(n, cfg.N) };
}

/** The kernel on the first configuration that fits, or undefined (use the register-tiled kernel). */
export function generateSubgroupMatrixMatmul(name: string, epi: Epilogue, ctx: GenContext, support: SubgroupMatrixSupport, fragments?: readonly [number, number]): GeneratedKernel | undefined {
  const mm = epi.anchor as MatmulNode;
  const found = support.configs.map((c) => fit(mm, ctx, c, fragments)).find((f): f is Fit => typeof f !== 'string');
  if (!found) return undefined;
  const { cfg, component: T, fm, fn } = found;
  const [a, b] = mm.src;
  const r = mm.shape.length;
  const batchShape = mm.shape.slice(0, r - 2);
  const [m, n, k] = [mm.shape[r - 2], mm.shape[r - 1], a.shape[r - 1]];
  const batch = numel(batchShape);
  const tileM = fm * cfg.M;
  const tileN = fn * cfg.N;
  const tilesM = m / tileM;
  const tilesN = n / tileN;
  const S = support.subgroupMaxSize;

  const w = newWriter(ctx);
  const ops = subgroupMatrixOps(w, cfg, T, support.emulate === true, S);
  const ve = new ValueEmitter(w, ctx.storage);
  ve.noteOrigin(mm);
  const { grid, cell: [bi, ti, tj] } = workgroupCell(w, ctx.target, [batch, tilesM, tilesN]);
  const row0 = ixScale(ti, tileM);
  const col0 = ixScale(tj, tileN);
  // Operands are bound as scalar arrays of their storage type: what subgroupMatrixLoad reads.
  const ba = w.bind(ctx.tensorOf(a), T, 'read', false);
  const bb = w.bind(ctx.tensorOf(b), T, 'read', false);
  const aBase = w.ix(ixAdd(ixScale(bi, m * k), ixScale(row0, k)));
  const bBase = w.ix(ixAdd(ixScale(bi, k * n), col0));
  const acc = (i: number, j: number): string => `acc_${i}_${j}`;
  for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) ops.zeroResult(acc(i, j));
  w.openLoop('kk', k / cfg.K);
  for (let i = 0; i < fm; i++) ops.load(`frag_a${i}`, 'left', ba, `${aBase} + kk * ${cfg.K}u + ${i * cfg.M * k}u`, k, 'row_major');
  for (let j = 0; j < fn; j++) ops.load(`frag_b${j}`, 'right', bb, `${bBase} + kk * ${cfg.K * n}u + ${j * cfg.N}u`, n, 'row_major');
  for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) ops.multiplyAccumulate(acc(i, j), `frag_a${i}`, `frag_b${j}`);
  w.close();

  const out = ctx.tensorOf(epi.end);
  const direct = epi.end === epi.anchor && w.storageDType(out, mm.dtype) === 'f32';
  if (direct) {
    const bc = w.bind(out, 'f32', 'read_write', false);
    const cBase = w.ix(ixAdd(ixScale(bi, m * n), ixAdd(ixScale(row0, n), col0)));
    for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) {
      ops.store(bc, `${cBase} + ${i * cfg.M * n + j * cfg.N}u`, acc(i, j), n);
    }
  } else {
    const bcoords = ixDelinearize(bi, batchShape);
    storeThroughTile(w, ve, epi, out, { ops, acc, fm, fn, cfg, S },
      (r, c) => [...bcoords, ixAdd(row0, r), ixAdd(col0, c)], () => true);
  }

  const sourceOps = ve.origins;
  const detail = `matmul ${batch > 1 ? `${batch} x ` : ''}${m}x${k} @ ${k}x${n} on subgroup matrices ${cfg.M}x${cfg.N}x${cfg.K} ${T}->f32, ${fm}x${fn} fragments per subgroup${direct ? '' : ', staged store'}${support.emulate ? ' (emulated in plain WGSL)' : ''}`;
  const wgsl = w.finish({ header: kernelHeader(name, 'contraction', detail, sourceOps), workgroupSize: [S, 1, 1], builtins: BUILTINS });
  return { wgsl, workgroups: grid, bindings: w.bindings, vectorAccessed: w.vectorAccessed, kind: 'contraction', sourceOps, flops: contractionFlops(mm, k) };
}

/** A subgroup's result fragments: fm × fn of them, `acc(i, j)`, each cfg.M × cfg.N. */
export interface Fragments {
  readonly ops: SubgroupMatrixOps;
  readonly acc: (i: number, j: number) => string;
  readonly fm: number;
  readonly fn: number;
  readonly cfg: SubgroupMatrixConfig;
  /** Invocations of the workgroup (one subgroup). */
  readonly S: number;
}

/**
 * The staged store: the fragments go to a workgroup-memory tile (row r, column c of the
 * (fm·M) × (fn·N) result), then each of the S invocations takes every S-th element, evaluates
 * the epilogue at `coords(r, c)` (clamped, always-safe coordinates of the anchor's output) and
 * stores it where `guard(r, c)` holds. Elements past the tile (S not dividing it) are skipped.
 */
export function storeThroughTile(
  w: KernelWriter, ve: ValueEmitter, epi: Epilogue, out: number, f: Fragments,
  coords: (r: Ix, c: Ix) => readonly Ix[], guard: (r: Ix, c: Ix) => string | true,
): void {
  const tileN = f.fn * f.cfg.N;
  const size = f.fm * f.cfg.M * tileN;
  w.workgroupArray('kiln_tile', 'f32', size);
  for (let i = 0; i < f.fm; i++) for (let j = 0; j < f.fn; j++) {
    f.ops.store('kiln_tile', `${i * f.cfg.M * tileN + j * f.cfg.N}u`, f.acc(i, j), tileN);
  }
  w.barrier();
  const lidx = ixVar('lidx', 0, f.S - 1, 0);
  const elements: Ix[] = Array.from({ length: Math.ceil(size / f.S) }, (_, e) => ixAddConst(lidx, e * f.S));
  // When S does not divide the tile, the last elements' index is clamped and their store guarded.
  const inTile = elements.map((idx) => (idx.hi < size ? idx : ixMin(idx, size - 1)));
  storeTile(w, ve, epi, out, inTile.map((idx) => [`kiln_tile[${w.ix(idx)}]`]),
    (e) => coords(ixDiv(inTile[e], tileN), ixMod(inTile[e], tileN)),
    (e) => allOf([elements[e].hi < size ? true : `(${w.ix(elements[e])} < ${size}u)`, guard(ixDiv(inTile[e], tileN), ixMod(inTile[e], tileN))]));
}
