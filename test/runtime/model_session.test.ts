/**
 * ModelSession on the real device: sessions over different weight sets share the device's one
 * weight store, and a session whose programs read no weights (the sampler's arithmetic between
 * two transformer calls) must not evict another session's weights, or every denoising step
 * would upload the whole model again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadSources } from '../../dsl/program.ts';
import { releaseDevice } from '../../runtime/device.ts';
import { ModelSession, weightsFromMap } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { deviceOrUndefined, NO_ADAPTER } from './gpu-available.ts';

const device = await deviceOrUndefined();
afterAll(async () => {
  if (device) await releaseDevice();
});

const SOURCE = `
module Scale(n: int) {
  param w: f32[n]
  fn forward(x: f32[n]) -> f32[n] { x * w }
}
module Arithmetic() {
  fn step(x: f32[N], v: f32[N]) -> f32[N] { x + v }
}
`;

const vec = (values: number[]): HostTensor => ({ dtype: 'F32', shape: [values.length], data: Float32Array.from(values) });

describe.skipIf(!device)(device ? 'ModelSession weights on one device' : `ModelSession weights on one device — ${NO_ADAPTER}`, () => {
  it('keeps a model\'s weights resident across calls of a weightless session', async () => {
    const program = loadSources({ 'm.kiln': SOURCE }, 'm.kiln');
    const session = { backend: 'webgpu' as const, device };
    const model = new ModelSession(program, 'Scale', { n: 3 }, weightsFromMap(new Map([['w', vec([1, 2, 3])]])), session);
    const arithmetic = new ModelSession(program, 'Arithmetic', {}, weightsFromMap(new Map()), session);
    const x = vec([1, 1, 1]);
    await model.call('forward', [x]);
    const uploads = device!.weights.stats.uploads;
    for (let i = 0; i < 3; i++) {
      const y = (await arithmetic.call('step', [x, x])).outputs.out;
      expect(Array.from(y.data as Float32Array)).toEqual([2, 2, 2]);
      const z = (await model.call('forward', [x])).outputs.out;
      expect(Array.from(z.data as Float32Array)).toEqual([1, 2, 3]);
    }
    expect(device!.weights.stats.uploads).toBe(uploads);
  });
});
