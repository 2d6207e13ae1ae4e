/**
 * Encoding and decoding helpers of `kiln vae` on the interpreter: the mode is the posterior
 * mean; a sample equals the Kiln module's own `sample` function (mean + std · randn(seed)
 * traced into the graph), so host-side sampling and in-graph sampling agree; scaling divides
 * back exactly; latents files keep their tensor and metadata.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HunyuanVae } from '../../../models/hunyuan_vae/autoencoder.ts';
import { checkLatentsOutput, LATENTS_FORMAT, LatentsFileError, readLatentsFile, writeLatentsFile } from '../../../models/hunyuan_vae/latents_file.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { encodePixels, samplePosterior, scaleTensor, unscaleTensor } from '../../../models/hunyuan_vae/run.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { writeFileSync } from 'node:fs';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

let vae: HunyuanVae;
let x: HostTensor;
beforeAll(() => {
  vae = new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights()), { backend: 'interp' });
  const n = 3 * 5 * 16 * 16;
  x = { dtype: 'F32', shape: [1, 3, 5, 16, 16], data: Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.37) * 0.9) };
});

const maxAbsDiff = (a: HostTensor, b: HostTensor): number => {
  const p = toFloat64(a);
  const q = toFloat64(b);
  expect(p.length).toBe(q.length);
  return p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i])), 0);
};

describe('encodePixels', () => {
  it('gives the posterior mean by default', async () => {
    const { latents, posterior } = await encodePixels(vae, x);
    expect(latents.shape).toEqual([1, 4, 2, 2, 2]);
    expect(latents.dtype).toBe('F32');
    expect(maxAbsDiff(latents, posterior.mean)).toBeLessThan(1e-6);
    // The mean is the first half of the moments' channels.
    const moments = toFloat64(posterior.parameters);
    expect(toFloat64(latents)[0]).toBeCloseTo(moments[0], 6);
  });

  it('draws a sample equal to the module\'s in-graph sample(x, seed)', async () => {
    const { latents } = await encodePixels(vae, x, { sampleSeed: 7 });
    const graph = await vae.session.call('sample', [x, { value: 7 }]);
    expect(maxAbsDiff(latents, graph.outputs.out)).toBeLessThan(1e-5);
    const mode = (await encodePixels(vae, x)).latents;
    expect(maxAbsDiff(latents, mode)).toBeGreaterThan(1e-3);
    const other = (await encodePixels(vae, x, { sampleSeed: 8 })).latents;
    expect(maxAbsDiff(latents, other)).toBeGreaterThan(1e-3);
  });

  it('samples mean + std · ε elementwise', () => {
    const mean: HostTensor = { dtype: 'F32', shape: [1, 1, 1, 1, 3], data: Float32Array.from([1, 2, 3]) };
    const zero: HostTensor = { dtype: 'F32', shape: [1, 1, 1, 1, 3], data: new Float32Array(3) };
    const std: HostTensor = { dtype: 'F32', shape: [1, 1, 1, 1, 3], data: Float32Array.from([0, 0, 0]) };
    // With std 0 a sample is the mean itself.
    expect(Array.from(toFloat64(samplePosterior({ parameters: zero, mean, logvar: zero, std }, 1)))).toEqual([1, 2, 3]);
  });

  it('scales and unscales', () => {
    const t: HostTensor = { dtype: 'F32', shape: [2], data: Float32Array.from([1, -2]) };
    expect(Array.from(toFloat64(scaleTensor(t, 0.5)))).toEqual([0.5, -1]);
    expect(Array.from(toFloat64(unscaleTensor(t, 0.5)))).toEqual([2, -4]);
  });
});

describe('latents files', () => {
  it('round-trip the tensor and metadata', () => {
    const dir = dirs.make();
    const path = join(dir, 'sub', 'clip.latents.safetensors');
    const latents: HostTensor = { dtype: 'F32', shape: [1, 4, 2, 2, 2], data: Float32Array.from({ length: 32 }, (_, i) => i / 7) };
    writeLatentsFile(path, latents, {
      scaled: true, scalingFactor: 0.476986, posterior: 'sample', seed: 3, config: TINY_VAE_CONFIG, weights: 'w.pt',
      source: { path: 'clip.mp4', kind: 'video', width: 16, height: 16, frames: 5, fps: 30, changes: ['trimmed 6 frames to 5 (dropped the last 1)'] },
    });
    const r = readLatentsFile(path);
    expect(r.name).toBe('latents');
    expect(r.latents.shape).toEqual([1, 4, 2, 2, 2]);
    expect(Array.from(toFloat64(r.latents))).toEqual(Array.from(toFloat64(latents)));
    expect(r).toMatchObject({ scaled: true, scalingFactor: 0.476986, format: LATENTS_FORMAT, config: TINY_VAE_CONFIG });
    expect(r.source).toMatchObject({ fps: 30, frames: 5, changes: ['trimmed 6 frames to 5 (dropped the last 1)'] });
  });

  it('accept a foreign file with one tensor, and refuse one with several unnamed ones', () => {
    const dir = dirs.make();
    const one = join(dir, 'one.safetensors');
    writeSafetensors(one, { z: { dtype: 'F16', shape: [4, 1, 2, 2], data: new Uint16Array(16) } });
    const r = readLatentsFile(one);
    expect(r).toMatchObject({ name: 'z', scaled: undefined, scalingFactor: undefined, config: undefined });
    const two = join(dir, 'two.safetensors');
    writeSafetensors(two, { a: { dtype: 'F32', shape: [1], data: new Float32Array(1) }, b: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    expect(() => readLatentsFile(two)).toThrow(LatentsFileError);
    expect(() => readLatentsFile(two)).toThrow(/holds 2 tensors \(a, b\) and none is named "latents"/);
  });

  it('check the output name and place before any work', () => {
    const dir = dirs.make();
    expect(() => checkLatentsOutput(join(dir, 'z.npy'))).toThrow(/name the output \*\.safetensors/);
    writeFileSync(join(dir, 'afile'), 'x');
    expect(() => checkLatentsOutput(join(dir, 'afile', 'deeper', 'z.safetensors'))).toThrow(/afile is a file, not a folder/);
    expect(() => checkLatentsOutput(join(dir, 'new', 'z.safetensors'))).not.toThrow();
  });
});
