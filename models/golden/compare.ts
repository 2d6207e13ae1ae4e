/**
 * Comparing an output with its reference: the max absolute error and the relative L2 error
 * ||impl - ref|| / ||ref|| over the finite reference entries. Non-finite reference entries
 * (the causal mask's -inf) must be matched exactly and are excluded from both measures.
 */
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import type { Tolerance } from './case.ts';

export interface Comparison {
  readonly name: string;
  readonly maxAbs: number;
  readonly relL2: number;
  readonly tolerance: Tolerance;
  readonly pass: boolean;
  /** Why it failed beyond the numbers (shape mismatch, non-finite mismatch). */
  readonly problem?: string;
}

export function compareOutput(name: string, actual: HostTensor, reference: HostTensor, tolerance: Tolerance): Comparison {
  const shapeOk = actual.shape.length === reference.shape.length && actual.shape.every((d, i) => d === reference.shape[i]);
  if (!shapeOk) {
    return { name, maxAbs: Infinity, relL2: Infinity, tolerance, pass: false, problem: `shape [${actual.shape.join(', ')}] instead of [${reference.shape.join(', ')}]` };
  }
  const a = toFloat64(actual);
  const r = toFloat64(reference);
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  let nonFinite = 0;
  for (let i = 0; i < r.length; i++) {
    const ref = r[i];
    const got = a[i];
    if (!Number.isFinite(ref)) {
      if (!Object.is(ref, got) && !(Number.isNaN(ref) && Number.isNaN(got))) nonFinite++;
      continue;
    }
    const d = Math.abs(got - ref);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    num += (got - ref) * (got - ref);
    den += ref * ref;
  }
  const relL2 = den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den);
  const problem = nonFinite ? `${nonFinite} non-finite reference entries not matched exactly` : undefined;
  const pass = !problem && maxAbs <= tolerance.atol && (Number.isNaN(relL2) ? false : relL2 <= tolerance.rel_l2);
  return { name, maxAbs, relL2, tolerance, pass, problem };
}
