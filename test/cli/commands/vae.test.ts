/**
 * `kiln vae encode` / `decode` end to end, in-process, on the interpreter backend with the
 * built-in tiny VAE and tiny generated media: round trips that produce files the media readers
 * open, pixels and latents checked against the model run directly (with the pixel mapping
 * written out here), input fitting and its errors, scaling and sampling, bad weights, bad
 * latents, atomic outputs and usage errors.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HunyuanVae } from '../../../models/hunyuan_vae/autoencoder.ts';
import { readLatentsFile } from '../../../models/hunyuan_vae/latents_file.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { ffmpegAvailable, makeSampleClip, makeSampleImage, readMedia, writeVideo } from '../../../runtime/media/index.ts';
import type { Frames } from '../../../runtime/media/frames.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { defaultLatentsPath } from '../../../cli/commands/vae/encode.ts';
import { decodedFrameCount, defaultVideoPath } from '../../../cli/commands/vae/decode.ts';
import { kiln, listDir, tempFolders } from './vae_helpers.ts';

const dirs = tempFolders();
afterAll(() => dirs.cleanup());
const hasFfmpeg = await ffmpegAvailable();
const I = ['--backend', 'interp'];

/** Pixels as the VAE takes them, written out independently: [1, 3, T, H, W], byte / 127.5 - 1. */
function pixelTensor(f: Frames): HostTensor {
  const plane = f.count * f.height * f.width;
  const data = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) data[c * plane + p] = f.data[p * 3 + c] / 127.5 - 1;
  return { dtype: 'F32', shape: [1, 3, f.count, f.height, f.width], data };
}

/** Decoder output to bytes the way spec §8.2 says: round(clamp((x + 1) / 2, 0, 1) · 255), HWC. */
function expectedBytes(y: HostTensor): Uint8Array {
  const [, , T, H, W] = y.shape;
  const v = toFloat64(y);
  const plane = T * H * W;
  const out = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(Math.min(Math.max((v[c * plane + p] + 1) / 2, 0), 1) * 255);
  }
  return out;
}

const builtinVae = () => new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights()), { backend: 'interp' });

describe('kiln vae encode / decode', () => {
  it('round-trips a PNG: latents are the posterior mean, pixels are clamp((x+1)/2) of the decode', async () => {
    const dir = dirs.make();
    const img = join(dir, 'img.png');
    await writeVideo(img, makeSampleImage(32, 24));
    const lat = join(dir, 'img.latents.safetensors');
    const enc = await kiln('vae', 'encode', img, ...I, '--out', lat);
    expect(enc.code, enc.err).toBe(0);
    expect(enc.out).toContain(`wrote ${lat}: latents [1, 4, 1, 3, 4] (unscaled posterior mean) from a 32×24 image`);
    expect(enc.err).toMatch(/input: .*img\.png: a 32×24 image \(image\)/);
    expect(enc.err).toContain('weights: built-in tiny random VAE');
    expect(enc.err).toMatch(/program moments \[1, 3, 1, 24, 32\]: no GPU memory plan on the interp backend/);

    const file = readLatentsFile(lat);
    expect(file).toMatchObject({ scaled: false, scalingFactor: 0.476986, config: TINY_VAE_CONFIG });
    expect(file.source).toMatchObject({ kind: 'image', width: 32, height: 24, frames: 1, changes: [] });
    const vae = builtinVae();
    const mean = (await vae.encode(pixelTensor((await readMedia(img))))).mean;
    expect(Array.from(toFloat64(file.latents))).toEqual(Array.from(toFloat64(mean)));

    const png = join(dir, 'back.png');
    const dec = await kiln('vae', 'decode', lat, ...I, '-o', png, '--quiet');
    expect(dec.code, dec.err).toBe(0);
    expect(dec.err).toBe('');
    expect(dec.out).toBe(`wrote ${png}: a 32×24 image decoded from latents [1, 4, 1, 3, 4]`);
    const back = await readMedia(png);
    expect([back.kind, back.count, back.width, back.height]).toEqual(['image', 1, 32, 24]);
    expect(Buffer.from(back.data).equals(Buffer.from(expectedBytes(await vae.decode(file.latents))))).toBe(true);
  });

  it.skipIf(!hasFfmpeg)(hasFfmpeg ? 'round-trips a short mp4 into an mp4 a player opens' : 'round-trips an mp4 — skipped: ffmpeg is not installed', async () => {
    const dir = dirs.make();
    const clip = join(dir, 'clip.mp4');
    await writeVideo(clip, makeSampleClip(5, 32, 32), { fps: 12 });
    const lat = join(dir, 'clip.latents.safetensors');
    const enc = await kiln('vae', 'encode', clip, ...I, '-o', lat, '-q');
    expect(enc.code, enc.err).toBe(0);
    const file = readLatentsFile(lat);
    expect(file.latents.shape).toEqual([1, 4, 2, 4, 4]);
    expect(file.source).toMatchObject({ kind: 'video', frames: 5, fps: 12 });
    const out = join(dir, 'back.mp4');
    const dec = await kiln('vae', 'decode', lat, ...I, '-o', out, '-q');
    expect(dec.code, dec.err).toBe(0);
    expect(dec.out).toContain('5 frames of 32×32 at 12 fps');
    const back = await readMedia(out);
    expect([back.kind, back.count, back.width, back.height, back.fps]).toEqual(['video', 5, 32, 32, 12]);
  });

  it('refuses a wrong frame count with the flags that fix it, and --trim fixes it', async () => {
    const dir = dirs.make();
    const frames = join(dir, 'frames');
    await writeVideo(`${frames}/`, makeSampleClip(6, 16, 16));
    const lat = join(dir, 'f.latents.safetensors');
    const bad = await kiln('vae', 'encode', frames, ...I, '-o', lat, '-q');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${frames} (the 16×16 video) does not fit the VAE, which needs 4k+1 frames`);
    expect(bad.err).toContain('the video has 6 frames; the VAE needs 4k+1 frames (5 or 9): pass --trim to drop the last frame or --pad to repeat the last frame 3 times');
    expect(bad.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(lat)).toBe(false);

    const ok = await kiln('vae', 'encode', frames, ...I, '-o', lat, '--trim');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toContain('trimmed 6 frames to 5 (dropped the last 1)');
    const file = readLatentsFile(lat);
    expect(file.latents.shape).toEqual([1, 4, 2, 2, 2]);
    expect(file.source?.changes).toEqual(['trimmed 6 frames to 5 (dropped the last 1)']);
  });

  it('refuses sides that are not multiples of 8, and --resize fixes them', async () => {
    const dir = dirs.make();
    const img = join(dir, 'odd.png');
    await writeVideo(img, makeSampleImage(30, 20));
    const bad = await kiln('vae', 'encode', img, ...I, '-o', join(dir, 'x.safetensors'), '-q');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('width 30 is not a multiple of 8: pass --crop to center-crop to 24, --pad to edge-pad to 32 or --resize to scale to 32');
    const ok = await kiln('vae', 'encode', img, ...I, '-o', join(dir, 'x.safetensors'), '--resize', '-q');
    expect(ok.code, ok.err).toBe(0);
    expect(readLatentsFile(join(dir, 'x.safetensors')).latents.shape).toEqual([1, 4, 1, 3, 4]);
  });

  it('--scale stores mode × scaling_factor, decoded back to the same pixels; --sample draws by seed', async () => {
    const dir = dirs.make();
    const img = join(dir, 'img.png');
    await writeVideo(img, makeSampleImage(16, 16));
    const run = async (name: string, ...flags: string[]) => {
      const p = join(dir, name);
      const r = await kiln('vae', 'encode', img, ...I, '-o', p, '-q', ...flags);
      expect(r.code, r.err).toBe(0);
      return readLatentsFile(p);
    };
    const mode = await run('mode.safetensors');
    const scaled = await run('scaled.safetensors', '--scale');
    expect(scaled.scaled).toBe(true);
    const m = toFloat64(mode.latents);
    const s = toFloat64(scaled.latents);
    for (let i = 0; i < m.length; i++) expect(s[i]).toBe(Math.fround(Math.fround(m[i]) * 0.476986));
    const a = await run('a.safetensors', '--sample', '--seed', '5');
    const b = await run('b.safetensors', '--sample', '--seed', '5');
    const c = await run('c.safetensors', '--sample', '--seed', '6');
    expect(Array.from(toFloat64(a.latents))).toEqual(Array.from(toFloat64(b.latents)));
    expect(Array.from(toFloat64(a.latents))).not.toEqual(Array.from(toFloat64(c.latents)));
    expect(Array.from(toFloat64(a.latents))).not.toEqual(Array.from(m));

    // The file says it is scaled, so decode divides first: the same image as from the mode.
    const fromMode = join(dir, 'mode.png');
    const fromScaled = join(dir, 'scaled.png');
    expect((await kiln('vae', 'decode', join(dir, 'mode.safetensors'), ...I, '-o', fromMode, '-q')).code).toBe(0);
    const dec = await kiln('vae', 'decode', join(dir, 'scaled.safetensors'), ...I, '-o', fromScaled);
    expect(dec.code, dec.err).toBe(0);
    expect(dec.err).toContain('[1, 4, 1, 2, 2], scaled');
    const p = (await readMedia(fromMode)).data;
    const q = (await readMedia(fromScaled)).data;
    expect(p.every((v, i) => Math.abs(v - q[i]) <= 1)).toBe(true);
  });

  it('checks latents against the shape rules and the config before loading any weights', async () => {
    const dir = dirs.make();
    const write = (name: string, shape: number[]) => {
      const p = join(dir, name);
      writeSafetensors(p, { latents: { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) } });
      return p;
    };
    const r3 = await kiln('vae', 'decode', write('r3.safetensors', [4, 2, 2]), ...I, '-o', join(dir, 'o.png'), '-q');
    expect(r3.code).toBe(1);
    expect(r3.err).toMatch(/r3\.safetensors: tensor "latents" has shape \[4, 2, 2\]; latents must be \[1, C, frames, height, width\]/);
    const b2 = await kiln('vae', 'decode', write('b2.safetensors', [2, 4, 1, 2, 2]), ...I, '-o', join(dir, 'o.png'), '-q');
    expect(b2.err).toMatch(/holds a batch of 2 latents/);
    const c16 = await kiln('vae', 'decode', write('c16.safetensors', [16, 1, 2, 2]), ...I, '-o', join(dir, 'o.png'), '-q');
    expect(c16.code).toBe(1);
    expect(c16.err).toMatch(/the latents have 16 channels \(shape \[1, 16, 1, 2, 2\]\), but the built-in tiny VAE has latent_channels 4\. Decode with the VAE that made them/);
    // An image file can hold one frame only: said before decoding 2 latent frames (5 frames).
    const two = await kiln('vae', 'decode', write('t.safetensors', [1, 4, 2, 2, 2]), ...I, '-o', join(dir, 'o.png'), '-q');
    expect(two.code).toBe(1);
    expect(two.err).toMatch(/o\.png can hold one frame, but there will be 5/);
    expect(listDir(dir)).toEqual(['b2.safetensors', 'c16.safetensors', 'r3.safetensors', 't.safetensors']);
  });

  it('reports a missing weights file and a checkpoint with the wrong keys', async () => {
    const dir = dirs.make();
    const img = join(dir, 'img.png');
    await writeVideo(img, makeSampleImage(16, 16));
    const missing = await kiln('vae', 'encode', img, ...I, '-w', join(dir, 'nope.pt'), '-o', join(dir, 'l.safetensors'), '-q');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`cannot open weights ${join(dir, 'nope.pt')}: no such file or folder. Check the path.`);

    const wrong = join(dir, 'wrong.safetensors');
    const w = new Map(builtinVaeWeights());
    w.delete('decoder.conv_out.conv.bias');
    w.set('decoder.extra.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
    writeSafetensors(wrong, w);
    const r = await kiln('vae', 'encode', img, ...I, '-w', wrong, '--config', writeTinyConfig(dir), '-o', join(dir, 'l.safetensors'), '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`the weights in ${wrong} do not match the module:`);
    expect(r.err).toMatch(/missing \(1\):\n {4}decoder\.conv_out\.conv\.bias \[3\]/);
    expect(r.err).toMatch(/unexpected \(1\):\n {4}decoder\.extra\.weight/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'l.safetensors'))).toBe(false);
  });

  it('leaves no output and no temporary file when writing the video fails', async () => {
    const dir = dirs.make();
    const lat = join(dir, 'z.safetensors');
    writeSafetensors(lat, { latents: { dtype: 'F32', shape: [1, 4, 2, 2, 2], data: new Float32Array(32).fill(0.3) } });
    // A stand-in ffmpeg: answers -version, then writes part of its output and fails.
    const fake = join(dir, 'fake-ffmpeg');
    await writeFile(fake, ['#!/bin/sh', 'if [ "$1" = "-version" ]; then echo "fake ffmpeg"; exit 0; fi', 'for last; do :; done',
      'head -c 100 >/dev/null', 'printf partial > "$last"', 'echo "Error: disk on fire" >&2', 'exit 1'].join('\n'));
    await chmod(fake, 0o755);
    const outDir = join(dir, 'out');
    await mkdir(outDir);
    const before = process.env.KILN_FFMPEG;
    process.env.KILN_FFMPEG = fake;
    try {
      const r = await kiln('vae', 'decode', lat, ...I, '-o', join(outDir, 'clip.mp4'), '-q');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/Error: disk on fire/);
    } finally {
      if (before === undefined) delete process.env.KILN_FFMPEG;
      else process.env.KILN_FFMPEG = before;
    }
    expect(listDir(outDir)).toEqual([]);

    // An output that cannot be created is refused before any work.
    await writeFile(join(dir, 'afile'), 'x');
    const r = await kiln('vae', 'decode', lat, ...I, '-o', join(dir, 'afile', 'clip.gif'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/read latents: failed/);
    expect(r.err).toMatch(/afile/);
    expect(r.err).not.toContain('load weights');
  });

  it('answers usage errors with exit status 2 and what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['vae'], /a subcommand is needed: use encode, decode or demo/],
      [['vae', 'squash'], /unknown subcommand 'squash'/],
      [['vae', 'encode'], /give the image, video or frame folder to encode/],
      [['vae', 'encode', 'a.png', 'b.png'], /give one image, video or frame folder to encode, not 2/],
      [['vae', 'encode', 'a.png', '--tile', '--no-tile'], /--tile and --no-tile contradict each other/],
      [['vae', 'encode', 'a.png', '--tile-size', '40'], /--tile-size 40: with 40 px tiles .* Use 32 or 64 \(a multiple of 32 for this VAE\)/],
      [['vae', 'encode', 'a.png', '--tile-frames', '20'], /--tile-frames 20: .* Use 16 or 32 \(a multiple of 16\)/],
      [['vae', 'encode', 'a.png', '--seed', '3'], /--seed only matters with --sample/],
      [['vae', 'encode', 'a.png', '--trim', '--pad'], /--trim and --pad both change the frame count/],
      [['vae', 'encode', 'a.png', '--bogus'], /encode: Unknown option '--bogus'/],
      [['vae', 'encode', 'a.png', '--backend', 'cuda'], /--backend must be webgpu or interp, not 'cuda'/],
      [['vae', 'encode', 'a.png', '--profile', '--backend', 'interp'], /--profile times GPU kernels, so it needs --backend webgpu/],
      [['vae', 'encode', 'a.png', '--dtype', 'f16', '--backend', 'interp'], /--dtype f16 chooses how tensors are stored on the GPU, so it needs --backend webgpu/],
      [['vae', 'decode', 'z.safetensors', '--dtype', 'f64'], /--dtype must be f32 or f16, not 'f64'/],
      [['vae', 'encode', 'a.png', '--memory-budget', 'lots'], /--memory-budget must be a positive number of megabytes/],
      [['vae', 'encode', 'a.png', '-o', 'a.npy'], /name the output \*\.safetensors/],
      [['vae', 'decode', 'z.safetensors', '--scaled', '--unscaled'], /--scaled and --unscaled contradict each other/],
      [['vae', 'decode', 'z.safetensors', '--fps', '0'], /--fps must be a positive number/],
      [['vae', 'demo', '--frames', '8'], /--frames must be of the form 4k\+1 .* \(try 5 or 9\)/],
      [['vae', 'demo', '--size', '60'], /--size must be a multiple of 8.*\(try 56 or 64\)/],
    ];
    for (const [args, re] of cases) {
      const r = await kiln(...args);
      expect([r.code, r.err], args.join(' ')).toEqual([re.source.includes('safetensors') ? 1 : 2, expect.stringMatching(re)]);
    }
  });

  it('prints help with examples, and picks default output names', async () => {
    const r = await kiln('vae', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/kiln vae encode INPUT/);
    expect(r.out).toMatch(/Examples:\n {2}kiln vae demo/);
    expect(r.out).toMatch(/--scale .*scaling_factor/s);
    expect(defaultLatentsPath('media/clip.mp4')).toBe('clip.latents.safetensors');
    expect(defaultLatentsPath('frames/')).toBe('frames.latents.safetensors');
    expect(await defaultVideoPath('x/clip.latents.safetensors', 1)).toBe('clip.decoded.png');
    expect(await defaultVideoPath('x/clip.latents.safetensors', 9)).toBe(`clip.decoded.${hasFfmpeg ? 'mp4' : 'gif'}`);
    expect([decodedFrameCount(1), decodedFrameCount(3), decodedFrameCount(33)]).toEqual([1, 9, 129]);
  });
});

function writeTinyConfig(dir: string): string {
  const p = join(dir, 'tiny_config.json');
  writeFileSync(p, JSON.stringify({ _class_name: 'AutoencoderKLCausal3D', ...TINY_VAE_CONFIG }));
  return p;
}
