/**
 * PyTorch's float32 host arithmetic, reproduced where upstream computes small tables on the CPU
 * in float32 (the scheduler's sigmas, the RoPE frequency tables): every operation rounds to
 * float32 (Math.fround) in the order PyTorch evaluates it, so Kiln's tables match upstream's to
 * an ulp or two rather than to float64's different rounding.
 */
import { roundHalfEven } from './round_half_even.ts';

const f32 = Math.fround;

/**
 * `torch.linspace(start, end, steps)` in float32, as ATen's CPU kernel computes it: the step
 * rounded to float32, the first half counted up from `start` and the second half down from
 * `end`, so both ends are exact. (Its vectorised path adds the step to a rounded base; the
 * results differ from this scalar form by at most an ulp.)
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - i - 1)));
  return out;
}

/** fma(a, b, c) of float32 values, rounded once to float32 (a·b is exact in a double). */
const fmaF32 = (a: number, b: number, c: number): number => f32(a * b + c);

const R_LN2 = f32(1.442695040888963407359924681001892137426645954152985934135449406931);
const LN2_HI = f32(0.693145751953125);
const LN2_LO = f32(1.428606765330187045e-6);
const EXP_POLY = [0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156, 0.166666671633720397949219, 0.5].map(f32);

/**
 * `torch.exp` of a float32 tensor on the CPU: ATen's vectorised kernels call SLEEF's expf_u10
 * (with FMA on AVX2/AVX-512), which is within an ulp but, for about one argument in eight, not the
 * correctly rounded value Math.exp would give. That ulp matters where the result is multiplied by
 * a large number: the transformer's timestep sinusoid multiplies these frequencies by the guidance
 * (≈ 6000), where one ulp moves cos and sin by 2e-4. This is SLEEF's algorithm: n = rint(d / ln 2),
 * a two-part reduction, a degree-6 polynomial, and the scale by 2^n.
 */
export function expF32(x: number): number {
  const d = f32(x);
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  const q = roundHalfEven(f32(d * R_LN2));
  let s = fmaF32(q, -LN2_HI, d);
  s = fmaF32(q, -LN2_LO, s);
  let u = EXP_POLY[0];
  for (let i = 1; i < EXP_POLY.length; i++) u = fmaF32(u, s, EXP_POLY[i]);
  u = f32(1 + fmaF32(f32(s * s), u, s));
  return f32(u * 2 ** q);
}
