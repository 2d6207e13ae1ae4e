/**
 * Running one golden case: find the adapter for its upstream class, run the recorded calls
 * with the chosen backend, and compare every reference output with what Kiln produced.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
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

export async function runGoldenCase(path: string, ctx: GoldenContext): Promise<CaseReport> {
  const t0 = performance.now();
  const c = new GoldenCase(path);
  try {
    const adapter = findAdapter(c.className);
    if (!adapter) throw new UnsupportedGoldenError(`${path}: no Kiln model for the upstream class ${c.className} (${c.module})`);
    const produced = await adapter.run(c, ctx);
    const comparisons: Comparison[] = [];
    for (const name of c.outputNames()) {
      const tol = c.tolerance[name];
      if (!tol) throw new UnsupportedGoldenError(`${path}: no tolerance for output '${name}' in the metadata`);
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
