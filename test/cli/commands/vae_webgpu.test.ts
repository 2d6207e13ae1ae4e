/**
 * `kiln vae` on the GPU (lavapipe on CPU-only machines): the demo end to end — files a person
 * can open, stage times, planned peaks, per-kernel profile, dumped WGSL — with its latents
 * checked against the float64 interpreter; and a plan that cannot fit any tiling refused before
 * anything runs. The demo uses its default 9×64×64 clip, the shapes `scripts/setup.sh` already
 * ran, so a fresh machine has their shaders in Mesa's cache.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HunyuanVae } from '../../../models/hunyuan_vae/autoencoder.ts';
import { readLatentsFile } from '../../../models/hunyuan_vae/latents_file.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { framesToTensor, makeSampleClip, readMedia } from '../../../runtime/media/index.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64 } from '../../../runtime/tensor.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { kiln, tempFolders } from './vae_helpers.ts';

const device = await deviceOrUndefined();
const dirs = tempFolders();

describe.skipIf(!device)(device ? 'kiln vae on WebGPU' : `kiln vae on WebGPU — ${NO_ADAPTER}`, () => {
  afterAll(async () => {
    dirs.cleanup();
    await releaseDevice();
  });

  it('runs the demo: input, latents and reconstruction files, stage times, planned peaks, profile, WGSL', async () => {
    const dir = dirs.make();
    const out = join(dir, 'out');
    const wgsl = join(dir, 'wgsl');
    const r = await kiln('vae', 'demo', '--out', out, '--profile', '--dump-wgsl', wgsl);
    expect(r.code, r.err).toBe(0);
    const names = readdirSync(out).sort();
    expect(names).toHaveLength(3);
    const ext = names[0].endsWith('.mp4') ? 'mp4' : 'gif';
    expect(names).toEqual([`demo_input.${ext}`, 'demo_latents.safetensors', `demo_reconstruction.${ext}`]);
    for (const f of [`demo_input.${ext}`, `demo_reconstruction.${ext}`]) {
      const m = await readMedia(join(out, f));
      expect([m.count, m.width, m.height], f).toEqual([9, 64, 64]);
    }
    expect(r.out).toMatch(/stage times:\n(.|\n)* encode +\d+(\.\d)?s(.|\n)* total +\S+/);
    expect(r.out).toMatch(/planned peak memory \(GPU\):\n {2}moments \[1, 3, 9, 64, 64\] +\d+\.\d MB\n {2}posterior \[1, 8, 3, 8, 8\] +\d+\.\d MB\n {2}decode \[1, 4, 3, 8, 8\] +\d+\.\d MB/);
    expect(r.out).toMatch(/per-kernel GPU times \(summed over tiles\):\nkernel +ms/);
    expect(r.out).toMatch(/\nmoments\/k\d+/);
    expect(r.err).toMatch(/program moments \[1, 3, 9, 64, 64\]: planned peak \d+\.\d MB, \d+ kernels/);
    expect(existsSync(wgsl) && readdirSync(wgsl).length).toBeGreaterThan(0);

    // The GPU's latents match the float64 interpreter's on the same clip.
    const latents = readLatentsFile(join(out, 'demo_latents.safetensors')).latents;
    const vae = new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights()), { backend: 'interp' });
    const ref = toFloat64((await vae.encode(framesToTensor(makeSampleClip(9, 64, 64)))).mean);
    const got = toFloat64(latents);
    const scale = Math.max(...ref.map(Math.abs));
    expect(got.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0)).toBeLessThan(1e-4 * Math.max(1, scale));
  });

  it('refuses, before running anything, a plan that fits no tiling within the memory budget', async () => {
    const dir = dirs.make();
    const lat = join(dir, 'z.safetensors');
    writeSafetensors(lat, { latents: { dtype: 'F32', shape: [1, 4, 1, 4, 4], data: new Float32Array(64) } });
    const r = await kiln('vae', 'decode', lat, '-o', join(dir, 'o.png'), '--memory-budget', '0.01', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot decode an input of shape \[1, 4, 1, 4, 4\] on this device: no tiling fits\.\n {2}- untiled \(the input is below the tile sizes\): decode \[1, 4, 1, 4, 4\] plans a peak of \d+\.\d MB, over the budget of 0\.0 MB/);
    expect(r.err).toMatch(/raise --memory-budget/);
    expect(existsSync(join(dir, 'o.png'))).toBe(false);
  });
});
