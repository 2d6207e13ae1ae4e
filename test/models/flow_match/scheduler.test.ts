/**
 * The flow-matching scheduler: the public golden cases (upstream's own float32 numbers) on the
 * interpreter and on WebGPU; other configs against the spec's formulas evaluated in float64
 * (spec/pipeline.md §2.2-2.3), since the held-out goldens use other shifts and step counts; the
 * step bookkeeping; and the sampler arithmetic of flow_match.kiln, kernel against interpreter
 * against the formula.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { formatReport } from '../../../models/golden/run.ts';
import { FlowMatchSchedule, ScheduleError } from '../../../models/flow_match/schedule.ts';
import { FlowMatchArithmetic } from '../../../models/flow_match/arithmetic.ts';
import { FlowMatchDiscreteScheduler } from '../../../models/flow_match/scheduler.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { goldenPath, runCase, SCHEDULER_CASES } from '../golden_cases.ts';

const device = await deviceOrUndefined();
afterAll(async () => {
  if (device) await releaseDevice();
});

const interp = { backend: 'interp' as const };

/** Seeded normal-ish values, float32. */
function randomTensor(shape: number[], seed: number): HostTensor {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (next() + next() + next() - 1.5) * 2;
  return { dtype: 'F32', shape, data };
}

/** The spec's schedule in float64: u = linspace(1, 0, N+1), sigma = shift·u / (1 + (shift−1)·u), flipped as 1 − sigma without reverse. */
function referenceSigmas(n: number, shift: number, reverse: boolean): number[] {
  return Array.from({ length: n + 1 }, (_, i) => {
    const u = 1 - i / n;
    const s = (shift * u) / (1 + (shift - 1) * u);
    return reverse ? s : 1 - s;
  });
}

describe('FlowMatchDiscreteScheduler goldens', () => {
  expect(SCHEDULER_CASES.length).toBeGreaterThanOrEqual(4);
  for (const f of SCHEDULER_CASES) {
    it(`${f} on the interpreter`, async () => {
      const r = await runCase(goldenPath(f));
      expect(r.comparisons.map((c) => c.name).sort()).toEqual(['init_sigmas', 'init_timesteps', 'prev_samples', 'sigmas', 'timesteps']);
      expect(r.pass, formatReport(r)).toBe(true);
    });
  }
  describe.skipIf(!device)(device ? 'on WebGPU' : `on WebGPU — ${NO_ADAPTER}`, () => {
    for (const f of SCHEDULER_CASES) {
      it(f, async () => {
        const r = await runCase(goldenPath(f), device);
        expect(r.pass, formatReport(r)).toBe(true);
      });
    }
  });
});

describe('FlowMatchSchedule', () => {
  it('matches the float64 formulas for any shift, step count and direction', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 80 }), fc.double({ min: 0.2, max: 30, noNaN: true }), fc.boolean(), (n, shift, reverse) => {
      const s = new FlowMatchSchedule({ numTrainTimesteps: 1000, shift, reverse });
      s.setTimesteps(n);
      const ref = referenceSigmas(n, shift, reverse);
      expect(s.sigmas.length).toBe(n + 1);
      expect(s.timesteps.length).toBe(n);
      for (let i = 0; i <= n; i++) expect(Math.abs(s.sigmas[i] - ref[i])).toBeLessThan(1e-6);
      for (let i = 0; i < n; i++) expect(Math.abs(s.timesteps[i] - ref[i] * 1000)).toBeLessThan(1e-3);
    }), { numRuns: 200 });
  });

  it('runs 1 → 0 exactly with reverse, and the unshifted table of the constructor before setTimesteps', () => {
    const s = new FlowMatchSchedule({ numTrainTimesteps: 1000, shift: 7, reverse: true });
    expect(s.sigmas.length).toBe(1001);
    expect([s.sigmas[0], s.sigmas[500], s.sigmas[1000]]).toEqual([1, 0.5, 0]);
    s.setTimesteps(50);
    expect([s.sigmas[0], s.sigmas[50], s.timesteps[0]]).toEqual([1, 0, 1000]);
  });

  it('finds the first step by its timestep, then counts, and refuses to step past the end', () => {
    const s = new FlowMatchSchedule({ numTrainTimesteps: 1000, shift: 5, reverse: true });
    s.setTimesteps(4);
    // Starting at the third timestep (as img2img-style partial runs do).
    expect(s.advance(s.timesteps[2])).toBe(Math.fround(s.sigmas[3] - s.sigmas[2]));
    expect(s.currentStep).toBe(3);
    expect(s.advance(12345)).toBe(Math.fround(s.sigmas[4] - s.sigmas[3])); // later steps ignore the value, as upstream
    expect(() => s.advance(0)).toThrow(/already reached the last sigma/);
    s.setTimesteps(4);
    expect(() => s.advance(1.5)).toThrow(ScheduleError);
    expect(() => s.setTimesteps(0)).toThrow(/positive integer/);
  });

  it('takes the second of two equal timesteps, as upstream does', () => {
    // shift 1 without reverse over 1000 training steps: u == 0 and u == 1/N give distinct values, so force a tie.
    const s = new FlowMatchSchedule({ numTrainTimesteps: 1000, shift: 1, reverse: true });
    s.setTimesteps(3);
    s.timesteps = Float32Array.of(900, 500, 500);
    s.advance(500);
    expect(s.currentStep).toBe(3);
  });
});

describe('FlowMatchEuler (flow_match.kiln)', () => {
  const backends = [{ name: 'interpreter', session: interp }, ...(device ? [{ name: 'WebGPU', session: { backend: 'webgpu' as const, device } }] : [])];
  for (const { name, session } of backends) {
    it(`steps a whole run like the float64 formula (${name})`, async () => {
      const sched = new FlowMatchDiscreteScheduler({ numTrainTimesteps: 1000, shift: 7, reverse: true }, session);
      sched.setTimesteps(6);
      let x = randomTensor([1, 4, 3, 5, 6], 3);
      const ref = Array.from(toFloat64(x));
      for (let i = 0; i < 6; i++) {
        const v = randomTensor([1, 4, 3, 5, 6], 100 + i);
        const dt = sched.sigmas[i + 1] - sched.sigmas[i];
        toFloat64(v).forEach((vi, j) => { ref[j] += vi * dt; });
        x = await sched.step(v, sched.timesteps[i], x);
      }
      const got = toFloat64(x);
      for (let j = 0; j < ref.length; j++) expect(Math.abs(got[j] - ref[j])).toBeLessThan(1e-5);
    });

    it(`combines guidance and keeps frame 0 in the token_replace step (${name})`, async () => {
      const sched = new FlowMatchDiscreteScheduler({ numTrainTimesteps: 1000, shift: 17, reverse: true }, session);
      const u = randomTensor([2, 3, 4, 2, 3], 1);
      const c = randomTensor([2, 3, 4, 2, 3], 2);
      const g = toFloat64(await sched.arithmetic.classifierFreeGuidance(u, c, 5));
      const uf = toFloat64(u);
      const cf = toFloat64(c);
      g.forEach((gi, j) => expect(Math.abs(gi - (uf[j] + 5 * (cf[j] - uf[j])))).toBeLessThan(1e-5));

      sched.setTimesteps(3);
      const image = randomTensor([2, 3, 1, 2, 3], 4);
      const y = toFloat64(await sched.tokenReplaceStep(c, sched.timesteps[0], u, image));
      const dt = sched.sigmas[1] - sched.sigmas[0];
      const img = toFloat64(image);
      // [B, C, T, H, W] with T = 4, H·W = 6: frame 0 of each (b, c) is the image latent, the rest stepped.
      for (let bc = 0; bc < 6; bc++) {
        for (let t = 0; t < 4; t++) {
          for (let hw = 0; hw < 6; hw++) {
            const j = (bc * 4 + t) * 6 + hw;
            const want = t === 0 ? img[bc * 6 + hw] : uf[j] + cf[j] * dt;
            expect(Math.abs(y[j] - want)).toBeLessThan(1e-5);
          }
        }
      }
    });
  }

  for (const { name, session } of backends) {
    it(`builds latent_concat's input: latents, the image on frame 0, a frame-0 mask (${name})`, async () => {
      const x = randomTensor([1, 2, 3, 2, 2], 5);
      const img = randomTensor([1, 2, 1, 2, 2], 6);
      const y = toFloat64(await new FlowMatchArithmetic(session).latentConcatInput(x, img));
      const xs = toFloat64(x);
      const is = toFloat64(img);
      // [1, 5, 3, 2, 2]: channels 0-1 the latents, 2-3 the image on frame 0 and zeros after, 4 the mask.
      for (let c = 0; c < 5; c++) {
        for (let f = 0; f < 3; f++) {
          for (let p = 0; p < 4; p++) {
            const want = c < 2 ? xs[(c * 3 + f) * 4 + p] : c < 4 ? (f === 0 ? is[(c - 2) * 4 + p] : 0) : f === 0 ? 1 : 0;
            expect(Math.abs(y[(c * 3 + f) * 4 + p] - want)).toBeLessThan(1e-6);
          }
        }
      }
    });
  }

  it('refuses a token_replace step on a single frame, naming the constraint', async () => {
    const sched = new FlowMatchDiscreteScheduler({ numTrainTimesteps: 1000, shift: 7, reverse: true }, interp);
    sched.setTimesteps(2);
    const x = randomTensor([1, 2, 1, 2, 2], 1);
    await expect(sched.tokenReplaceStep(x, sched.timesteps[0], x, x)).rejects.toThrow(/T >= 2/);
  });
});
