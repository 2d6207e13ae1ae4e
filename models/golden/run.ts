/**
 * Running one golden case: find the adapter for its upstream class, run the recorded calls
 * with the chosen backend, and compare every reference output with what Kiln produced (with
 * f16 storage, against the golden README's f16 tolerance: F16_REL_L2, F16_MAX_ABS).
 */
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import type { Tolerance } from './case.ts';
import { GoldenCase } from './case.ts';
import { compareOutput, type Comparison } from './compare.ts';
import { UnsupportedGoldenError, type GoldenContext } from './adapter.ts';
import { findAdapter } from './registry.ts';

export interface CaseReport {
  readonly path: string;
  readonly caseName: string;
  readonly className: string;
  readonly comparisons: readonly Comparison[];
  readonly pass: boolean;
  readonly ms: number;
}

/**
 * The golden README's guidance for float16 storage: "expect roughly 1e-3 relative instead".
 * Read as: relative L2 error within F16_REL_L2 (f16 rounds each stored value by up to 2^-11 ≈
 * 4.9e-4 relative; a single block stays near 2-5e-4, a whole encoder or decoder, twenty-odd
 * stored activations deep, near 1-2.5e-3) and max abs error within F16_MAX_ABS of the
 * reference's largest magnitude — or the file's own f32 bounds, when looser.
 */
export const F16_REL_L2 = 3e-3;
export const F16_MAX_ABS = 5e-3;

function f16Tolerance(tol: Tolerance, reference: HostTensor): Tolerance {
  let peak = 0;
  for (const v of toFloat64(reference)) if (Number.isFinite(v)) peak = Math.max(peak, Math.abs(v));
  return { atol: Math.max(tol.atol, F16_MAX_ABS * peak), rel_l2: Math.max(tol.rel_l2, F16_REL_L2) };
}

export async function runGoldenCase(path: string, ctx: GoldenContext): Promise<CaseReport> {
  const t0 = performance.now();
  const c = new GoldenCase(path);
  try {
    const adapter = findAdapter(c.className);
    if (!adapter) throw new UnsupportedGoldenError(`${path}: no Kiln model for the upstream class ${c.className} (${c.module})`);
    const produced = await adapter.run(c, ctx);
    const comparisons: Comparison[] = [];
    for (const name of c.outputNames()) {
      const fileTol = c.tolerance[name];
      if (!fileTol) throw new UnsupportedGoldenError(`${path}: no tolerance for output '${name}' in the metadata`);
      const tol = ctx.session.dtype === 'f16' ? f16Tolerance(fileTol, c.reference(name)) : fileTol;
      const got: HostTensor | undefined = produced.get(name);
      if (!got) {
        comparisons.push({ name, maxAbs: Infinity, relL2: Infinity, tolerance: tol, pass: false, problem: 'not produced (no recorded call returns it)' });
        continue;
      }
      comparisons.push(compareOutput(name, got, c.reference(name), tol));
    }
    return { path, caseName: c.caseName, className: c.className, comparisons, pass: comparisons.every((x) => x.pass), ms: performance.now() - t0 };
  } finally {
    c.close();
  }
}

export function formatReport(r: CaseReport): string {
  const lines = [`${r.pass ? 'PASS' : 'FAIL'} ${r.caseName} (${r.className}, ${(r.ms / 1000).toFixed(1)} s)`];
  const w = Math.max(...r.comparisons.map((c) => c.name.length), 6);
  for (const c of r.comparisons) {
    const fmt = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));
    lines.push(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name.padEnd(w)}  max abs ${fmt(c.maxAbs)} (atol ${c.tolerance.atol})  rel L2 ${fmt(c.relL2)} (tol ${c.tolerance.rel_l2})${c.problem ? `  ${c.problem}` : ''}`);
  }
  return lines.join('\n');
}
