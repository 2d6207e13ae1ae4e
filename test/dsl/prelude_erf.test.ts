// The prelude's erf (Abramowitz & Stegun 7.1.26) and exact GELU against erf's Taylor series in
// float64, on the interpreter: within the approximation's stated 1.5e-7, odd, and saturating.
import { describe, expect, it } from 'vitest';
import { bindModule, tensorArg } from '../../compiler/bind.ts';
import { interpret } from '../../compiler/reference/interpret.ts';
import { loadSources } from '../../dsl/program.ts';

/** erf by its Maclaurin series, summed until the terms vanish (exact to ~1e-13 for |x| <= 4). */
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function run(fn: 'erf' | 'gelu_erf', xs: number[]): Float64Array {
  const src = `module M() {\n  fn forward(x: f32[N]) -> f32[N] { ${fn}(x) }\n}\n`;
  const g = bindModule(loadSources({ 'm.kiln': src }, 'm.kiln'), 'M', {}).trace({ fn: 'forward', args: [tensorArg('x', [xs.length])] });
  return interpret(g, { x: xs }).get(g.outputs[0].name)!;
}

const grid = Array.from({ length: 801 }, (_, i) => (i - 400) / 100);

describe('erf and gelu_erf in the prelude', () => {
  it('erf is within 1.5e-7 of the series, odd, and 0 at 0', () => {
    const y = run('erf', grid);
    grid.forEach((x, i) => expect(Math.abs(y[i] - erfSeries(x)), `erf(${x})`).toBeLessThan(1.5e-7));
    grid.forEach((_, i) => { if (i !== 400) expect(y[i]).toBe(-y[grid.length - 1 - i]); });
    expect(Math.abs(y[400])).toBeLessThan(1e-8);
  });

  it('gelu_erf is x·Φ(x) to the same accuracy', () => {
    const y = run('gelu_erf', grid);
    grid.forEach((x, i) => expect(Math.abs(y[i] - 0.5 * x * (1 + erfSeries(x / Math.SQRT2))), `gelu(${x})`).toBeLessThan(1.5e-7 * Math.max(1, Math.abs(x))));
  });
});
