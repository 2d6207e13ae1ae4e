/**
 * ModelSession on the real device: sessions over different weight sets share the device's one
 * weight store, and a session whose programs read no weights (the sampler's arithmetic between
 * two transformer calls) must not evict another session's weights, or every denoising step
 * would upload the whole model again. And calls that keep their tensors on the device
 * (callOnDevice, place, placeStacked, readInto: sequence parallelism's phases), on the device and
 * on the interpreter alike.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadSources } from '../../dsl/program.ts';
import { releaseDevice } from '../../runtime/device.ts';
import { GpuTensor } from '../../runtime/executor.ts';
import { ModelSession, releaseTensors, weightsFromMap, type SessionOptions } from '../../runtime/model.ts';
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

const backends: Array<[string, SessionOptions | undefined]> = [['the interpreter', { backend: 'interp' }], ['WebGPU', device ? { backend: 'webgpu', device } : undefined]];
for (const [name, options] of backends) {
  describe.skipIf(!options)(options ? `ModelSession tensors that stay where they are, on ${name}` : `ModelSession on ${name} — ${NO_ADAPTER}`, () => {
    it('chains calls without reading back, stacks parts (views of shared memory too) and reads into shared memory', async () => {
      const program = loadSources({ 'm.kiln': SOURCE }, 'm.kiln');
      const model = new ModelSession(program, 'Scale', { n: 3 }, weightsFromMap(new Map([['w', vec([1, 2, 3])]])), options!);
      const arithmetic = new ModelSession(program, 'Arithmetic', {}, weightsFromMap(new Map()), options!);
      const x = model.place(vec([1, 1, 1]), 'x');
      const y = await model.callOnDevice('forward', [x]); // stays on the device
      expect(y.out instanceof GpuTensor).toBe(options!.backend === 'webgpu');
      const z = await arithmetic.callOnDevice('step', [y.out, x], { read: ['out'] }); // read back
      expect(Array.from((z.out as HostTensor).data as ArrayLike<number>)).toEqual([2, 3, 4]);
      // Parts in shared memory, stacked on the device: [2, 3].
      const shared = new SharedArrayBuffer(24);
      const parts = [0, 1].map((i) => ({ dtype: 'F32' as const, shape: [3], data: new Float32Array(shared, 12 * i, 3).fill(i + 5) }));
      const stacked = await model.placeStacked(parts, 'stacked');
      expect(stacked.shape).toEqual([2, 3]);
      const slot = { dtype: model.hostLayout(stacked).dtype, shape: [2, 3], data: options!.backend === 'webgpu' ? new Float32Array(new SharedArrayBuffer(24)) : new Float64Array(new SharedArrayBuffer(48)) };
      await model.readInto(stacked, slot);
      expect(Array.from(slot.data)).toEqual([5, 5, 5, 6, 6, 6]);
      // A part of a tensor the session holds joins host parts (copied on the device), and a
      // read can leave one part out (its slot keeps what it had).
      const mixed = await model.placeStacked([parts[1], { from: stacked, part: 0 }], 'mixed');
      const partial = { ...slot, data: slot.data.fill(-1) };
      await model.readInto(mixed, partial, 1);
      expect(Array.from(partial.data)).toEqual(options!.backend === 'webgpu' ? [6, 6, 6, -1, -1, -1] : [6, 6, 6, 5, 5, 5]);
      await model.readInto(mixed, partial);
      expect(Array.from(partial.data)).toEqual([6, 6, 6, 5, 5, 5]);
      releaseTensors([x, y.out, stacked, mixed]);
    });

    // f16 GPU storage; the interpreter has none.
    if (options?.backend === 'webgpu') it('stacks f16 parts of odd length back to back, and reads them back as they are', async () => {
      const program = loadSources({ 'm.kiln': SOURCE }, 'm.kiln');
      const model = new ModelSession(program, 'Arithmetic', {}, weightsFromMap(new Map()), options!);
      const half = (bits: number[]): HostTensor => ({ dtype: 'F16', shape: [bits.length], data: Uint16Array.from(bits) });
      const stacked = await model.placeStacked([half([0x3c00, 0x4000, 0x4200]), half([0x4400, 0x4500, 0x4600])], 'halves');
      expect(model.hostLayout(stacked)).toEqual({ dtype: 'F16', shape: [2, 3] });
      const slot = { dtype: 'F16' as const, shape: [2, 3], data: new Uint16Array(6) };
      await model.readInto(stacked, slot);
      expect(Array.from(slot.data)).toEqual([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]);
      releaseTensors([stacked]);
    });
  });
}
