/**
 * Register tiles shared by the contraction kernels: each thread owns rm × rn accumulators
 * `acc_i_j`, adds outer products of rm values of one operand and rn of the other per step of
 * the contracted loop, and at the end evaluates the epilogue for each accumulator at its
 * output coordinates and stores it, guarded when the tile overhangs the output.
 */
import type { Node } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Epilogue } from '../passes/schedule.ts';
import { type Ix, ixAddConst, ixDiv, ixLinearize, ixMin, ixMod, ixVar } from './index_expr.ts';
import { type ValueEmitter, storeExpr } from './values.ts';
import type { KernelWriter } from './writer.ts';

export function declareAccumulators(w: KernelWriter, rm: number, rn: number): string[][] {
  const acc: string[][] = [];
  for (let i = 0; i < rm; i++) {
    acc.push([]);
    for (let j = 0; j < rn; j++) {
      const name = `acc_${i}_${j}`;
      w.stmt(`var ${name}: f32 = 0.0f;`);
      acc[i].push(name);
    }
  }
  return acc;
}

/**
 * Adds Σ_s a[s][i] · b[s][j] to each accumulator, for the steps s of one unrolled stretch of the
 * contracted loop (a convolution's last-axis taps, a matmul's unrolled K). The fmas of one
 * accumulator are adjacent: register tiles bigger than the register file live on the stack on
 * a CPU adapter (lavapipe), and adjacent fmas load and store each accumulator once per stretch
 * instead of once per step (conv3d 128->128, 8x8 tile: ~25% faster than step-major order).
 */
export function accumulate(w: KernelWriter, acc: readonly string[][], a: readonly (readonly string[])[], b: readonly (readonly string[])[]): void {
  for (let i = 0; i < acc.length; i++) {
    for (let j = 0; j < acc[i].length; j++) {
      for (let s = 0; s < a.length; s++) w.stmt(`${acc[i][j]} = fma(${a[s][i]}, ${b[s][j]}, ${acc[i][j]});`);
    }
  }
}

/** The conjunction of store guards, or true when none is needed. */
export function allOf(guards: readonly (string | true)[]): string | true {
  const g = guards.filter((x): x is string => x !== true);
  return g.length ? g.join(' && ') : true;
}

/** `i < bound` for a tile coordinate, or true when its range says so. */
export function inBounds(w: KernelWriter, i: Ix, bound: number): string | true {
  if (i.hi < bound) return true;
  return `(${w.ix(i)} < ${bound}u)`;
}

/**
 * Evaluates the epilogue at `coords(i, j)` (clamped, always-safe coordinates of the anchor's
 * output) and stores it where `guard(i, j)` holds.
 */
export function storeTile(
  w: KernelWriter, ve: ValueEmitter, epi: Epilogue, out: number, acc: readonly string[][],
  coords: (i: number, j: number) => readonly Ix[], guard: (i: number, j: number) => string | true,
): void {
  const end: Node = epi.end;
  for (let i = 0; i < acc.length; i++) {
    for (let j = 0; j < acc[i].length; j++) {
      const c = coords(i, j);
      const total = w.let(acc[i][j], w.level);
      ve.bind(epi.anchor, c, total);
      const v = end === epi.anchor ? { code: total } : ve.compute(end, c);
      const store = `${w.element(out, end.dtype, 'read_write', w.ix(ixLinearize(c, end.shape)))} = ${storeExpr(v.code, w.storageDType(out, end.dtype))};`;
      const g = guard(i, j);
      w.stmt(g === true ? store : `if ${g} { ${store} }`);
    }
  }
}

export const contractionFlops = (out: Node, k: number): number => 2 * numel(out.shape) * k;

/**
 * Staging for the staged contractions (TileConfig.stageK, subgroup matrices): the workgroup's
 * `threads` invocations fill `tile`, a rows × cols block in workgroup memory (row-major),
 * together; invocation lidx takes elements lidx + i·threads, at (e / cols, e % cols), whose
 * WGSL value `value` gives. Where the threads overhang the block, the address is clamped and
 * the store skipped. Several tiles of one shape may be filled at once (`tile` a list, `value`
 * giving one value per tile), e.g. the parts of a value split in two.
 */
export function fillTile(w: KernelWriter, tile: string | readonly string[], rows: number, cols: number, threads: number,
  value: (r: Ix, c: Ix) => string | readonly string[]): void {
  const total = rows * cols;
  const tiles = typeof tile === 'string' ? [tile] : tile;
  const lidx = ixVar('lidx', 0, threads - 1, 0);
  for (let e = 0; e * threads < total; e++) {
    const idx = ixAddConst(lidx, e * threads);
    const inTile = idx.hi < total ? idx : ixMin(idx, total - 1);
    const guard = idx.hi < total ? undefined : `${w.ix(idx)} < ${total}u`;
    if (guard) w.open(`if (${guard})`);
    const v = value(ixDiv(inTile, cols), ixMod(inTile, cols));
    const values = typeof v === 'string' ? [v] : v;
    tiles.forEach((t, k) => w.stmt(`${t}[${w.ix(inTile)}] = ${values[k]};`));
    if (guard) w.close();
  }
}

/** `v`, or 0 where `i` reaches `bound` (a staged chunk past the end of K or of the channels). */
export function zeroPast(w: KernelWriter, v: string, i: Ix, bound: number): string {
  return i.hi < bound ? v : `select(0.0f, ${v}, ${w.ix(i)} < ${bound}u)`;
}
