/**
 * Storage dtypes: which tensors a program keeps in f16 buffers when compiled with
 * `storage: 'f16'`. The graph stays f32 (its arithmetic, and the reference interpreter's
 * meaning); only where values rest between kernels changes. Kernels widen f16 loads to f32 and
 * accumulate in f32, rounding once per store.
 *
 * Chosen: weights and intermediates of logical dtype f32 — the bulk of the bytes moved.
 * Kept f32: program inputs and outputs (the caller's interface does not change with the
 * storage choice), integer and bool tensors, and the results of reductions (GroupNorm
 * statistics, softmax denominators: a few values per row, where an f16 rounding would be
 * paid by every element normalised with them).
 */
import type { TensorInfo } from '../kernel.ts';
import type { Schedule } from './schedule.ts';
import { type TensorAssignment, tensorBytes } from './tensors.ts';

export type StorageMode = 'f32' | 'f16';

/**
 * Under f16 storage, program inputs and outputs (logical f32) may rest in f16 too, for programs
 * whose tensors go to other programs as they are (sequence parallelism's phases, which also
 * cross between devices: half the bytes). The caller's interface then is f16.
 */
export interface HalfInterface {
  readonly inputs?: boolean;
  readonly outputs?: boolean;
}

export function storageDTypes(s: Schedule, a: TensorAssignment, mode: StorageMode, half: HalfInterface = {}): readonly TensorInfo[] {
  if (mode === 'f32') return a.tensors;
  const keep = new Set<number>();
  for (const g of s.groups) {
    if (g.kind !== 'reduction') continue;
    for (const e of g.chain) {
      const t = a.tensorOfNode.get(e.end.id);
      if (t !== undefined) keep.add(t);
    }
  }
  const halfRole = (t: TensorInfo): boolean => (t.role === 'input' && half.inputs === true) || (t.role === 'output' && half.outputs === true);
  return a.tensors.map((t) => {
    if (t.dtype !== 'f32') return t;
    if (!halfRole(t) && ((t.role !== 'weight' && t.role !== 'intermediate') || keep.has(t.id))) return t;
    return { ...t, dtype: 'f16', bytes: tensorBytes(t.shape, 'f16') };
  });
}
