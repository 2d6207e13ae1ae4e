/**
 * The last step every attention kernel shares: one output element of P·V, already normalised,
 * bound as the matched `pv` at its coordinates, the epilogue evaluated there, the result
 * stored where `guard` holds (queries and features past the end are computed clamped, never
 * stored).
 */
import type { AttentionMatch, Epilogue } from '../passes/schedule.ts';
import type { GenContext } from './common.ts';
import { type Ix, ixLinearize } from './index_expr.ts';
import { ValueEmitter, storeExpr } from './values.ts';
import type { KernelWriter } from './writer.ts';

export function storeAttentionOutput(w: KernelWriter, ve: ValueEmitter, ctx: GenContext, att: AttentionMatch, epi: Epilogue, coords: readonly Ix[], value: string, guard: string | true): void {
  const end = epi.end;
  const out = ctx.tensorOf(end);
  const o = w.let(value, w.level);
  ve.bind(att.pv, coords, o);
  const v = end === att.pv ? o : ve.compute(end, coords).code;
  const store = `${w.element(out, end.dtype, 'read_write', w.ix(ixLinearize(coords, end.shape)))} = ${storeExpr(v, w.storageDType(out, end.dtype))};`;
  w.stmt(guard === true ? store : `if ${guard} { ${store} }`);
}
