/**
 * PyTorch's float32 host arithmetic, reproduced where upstream computes small tables on the CPU
 * in float32 (the scheduler's sigmas, the RoPE frequency tables): every operation rounds to
 * float32 (Math.fround) in the order PyTorch evaluates it, so Kiln's tables match upstream's to
 * an ulp or two rather than to float64's different rounding.
 */
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
