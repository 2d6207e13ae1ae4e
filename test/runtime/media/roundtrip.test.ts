import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readdir, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { movingSquares, pixelDiff, rejection, withTempDir } from './helpers.ts';
import { readMedia, writeVideo, outputKindOf, checkOutputPath } from '../../../runtime/media/media.ts';
import { readFrameFolder } from '../../../runtime/media/frame_folder.ts';
import { readImage } from '../../../runtime/media/image.ts';
import { readVideo, probeVideo } from '../../../runtime/media/video.ts';
import { ffmpegAvailable } from '../../../runtime/media/ffmpeg.ts';
import { makeFrames, type Frames } from '../../../runtime/media/frames.ts';
import { MediaError } from '../../../runtime/media/errors.ts';

const hasFfmpeg = await ffmpegAvailable();

/** Each frame's red and green square centres hold their colours (within `tolerance`). */
function expectSquaresAt(f: Frames, tolerance: number): void {
  for (let t = 0; t < f.count; t++) {
    for (const [x, y, rgb] of [[6 + 2 * t, 7, [230, 40, 40]], [f.width - 6 - 2 * t, 17, [40, 210, 60]]] as const) {
      const i = ((t * f.height + y) * f.width + x) * 3;
      const got = Array.from(f.data.subarray(i, i + 3));
      for (let c = 0; c < 3; c++) {
        if (Math.abs(got[c] - rgb[c]) > tolerance) throw new Error(`frame ${t} at (${x}, ${y}): got [${got}], expected about [${rgb}]`);
      }
    }
  }
}
const ffmpegSuite = hasFfmpeg ? 'mp4 through ffmpeg' : 'mp4 through ffmpeg (SKIPPED: ffmpeg is not installed)';

describe('frame folders and still images (sharp)', () => {
  it('writes frame_00000.png... and reads them back exactly', () => withTempDir(async (dir) => {
    const clip = movingSquares();
    const out = join(dir, 'frames/');
    expect(await writeVideo(out, clip)).toBe('folder');
    expect(await readdir(out)).toEqual(Array.from({ length: 9 }, (_, i) => `frame_0000${i}.png`));
    const back = await readMedia(out);
    expect(back).toMatchObject({ kind: 'frames', width: 32, height: 24, count: 9 });
    expect(pixelDiff(back.data, clip.data).max).toBe(0);
    expect(await readMedia(out, { maxFrames: 2 })).toMatchObject({ count: 2 });
  }));

  it('replaces an earlier frame folder completely', () => withTempDir(async (dir) => {
    const out = join(dir, 'frames');
    await writeVideo(out + '/', movingSquares(9));
    await writeVideo(out + '/', movingSquares(5));
    expect((await readdir(out)).length).toBe(5);
    expect((await readdir(dir))).toEqual(['frames']); // no temporary or backup folder left
  }));

  it('reads frames in natural order and insists on one size', () => withTempDir(async (dir) => {
    const clip = movingSquares(11, 8, 8);
    for (let t = 0; t < 11; t++) {
      const png = await sharp(clip.data.subarray(t * 192, (t + 1) * 192), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
      await writeFile(join(dir, `f_${t}.png`), png); // f_10 sorts after f_9 only naturally
    }
    await writeFile(join(dir, '.hidden.png'), 'not an image');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const back = await readFrameFolder(dir);
    expect(back.count).toBe(11);
    expect(pixelDiff(back.data, clip.data).max).toBe(0);

    await writeFile(join(dir, 'f_11.png'), await sharp({ create: { width: 9, height: 8, channels: 3, background: '#000' } }).png().toBuffer());
    await expect(readFrameFolder(dir)).rejects.toThrow(/f_11\.png is 9×8, but the first frame \(f_0\.png\) is 8×8/);
  }));

  it('says so when a folder holds no frames', () => withTempDir(async (dir) => {
    await expect(readMedia(dir)).rejects.toThrow(/holds no frames/);
  }));

  it('writes and reads one frame as PNG exactly and as JPEG closely', () => withTempDir(async (dir) => {
    const one = movingSquares(1);
    await writeVideo(join(dir, 'one.png'), one);
    const png = await readMedia(join(dir, 'one.png'));
    expect(png).toMatchObject({ kind: 'image', count: 1, width: 32, height: 24 });
    expect(pixelDiff(png.data, one.data).max).toBe(0);
    await writeVideo(join(dir, 'one.jpg'), one);
    expect(pixelDiff((await readImage(join(dir, 'one.jpg'))).data, one.data).mean).toBeLessThan(4);
    expectSquaresAt(await readImage(join(dir, 'one.jpg')), 12);
    await expect(writeVideo(join(dir, 'many.png'), movingSquares(3))).rejects.toThrow(/can hold one frame, but there are 3/);
  }));

  it('flattens transparency onto black and turns grey into RGB', () => withTempDir(async (dir) => {
    // Two pixels: opaque white, and white at alpha 51 (20%) -> 255 * 0.2 = 51.
    const rgba = Uint8Array.of(255, 255, 255, 255, 255, 255, 255, 51);
    await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(join(dir, 'alpha.png'));
    expect(Array.from((await readImage(join(dir, 'alpha.png'))).data)).toEqual([255, 255, 255, 51, 51, 51]);
    await sharp(Uint8Array.of(10, 200), { raw: { width: 2, height: 1, channels: 1 } }).png().toFile(join(dir, 'grey.png'));
    expect(Array.from((await readImage(join(dir, 'grey.png'))).data)).toEqual([10, 10, 10, 200, 200, 200]);
  }));
});

describe('animated GIF and WebP (sharp)', () => {
  it('writes a looping GIF with one page per frame', () => withTempDir(async (dir) => {
    const clip = movingSquares();
    await writeVideo(join(dir, 'clip.gif'), clip, { fps: 25 });
    const meta = await sharp(join(dir, 'clip.gif'), { pages: -1 }).metadata();
    expect(meta).toMatchObject({ format: 'gif', width: 32, pages: 9, pageHeight: 24, loop: 0 });
    expect(meta.delay).toEqual(new Array(9).fill(40));
    const back = await readMedia(join(dir, 'clip.gif'));
    expect(back).toMatchObject({ kind: 'animation', count: 9, width: 32, height: 24, fps: 25 });
    // Few flat colours fit the 256-colour palette exactly.
    expect(pixelDiff(back.data, clip.data).max).toBe(0);
    const firstFour = await readMedia(join(dir, 'clip.gif'), { maxFrames: 4 });
    expect(firstFour).toMatchObject({ count: 4, fps: 25 });
    expect(pixelDiff(firstFour.data, clip.data.subarray(0, 4 * 32 * 24 * 3)).max).toBe(0);
  }));

  it('writes a looping WebP with one page per frame', () => withTempDir(async (dir) => {
    const clip = movingSquares();
    await writeVideo(join(dir, 'clip.webp'), clip); // 24 fps -> 42 ms per frame
    const meta = await sharp(join(dir, 'clip.webp'), { pages: -1 }).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 32, pages: 9, pageHeight: 24, loop: 0 });
    expect(meta.delay).toEqual(new Array(9).fill(42));
    const back = await readMedia(join(dir, 'clip.webp'));
    expect(back).toMatchObject({ kind: 'animation', count: 9, width: 32, height: 24 });
    // Lossy (quality 90, 4:2:0 chroma): saturated edges on a tiny image blur, but every frame
    // keeps its squares where they were drawn.
    expect(pixelDiff(back.data, clip.data).mean).toBeLessThan(14);
    expectSquaresAt(back, 25);
    await writeVideo(join(dir, 'lossless.webp'), clip, { lossless: true });
    expect(pixelDiff((await readMedia(join(dir, 'lossless.webp'))).data, clip.data).max).toBe(0);
  }));
});

describe('choosing readers and writers', () => {
  it('picks the output by name', () => withTempDir(async (dir) => {
    await mkdir(join(dir, 'existing.mp4'));
    const kinds = await Promise.all(['a.mp4', 'a.GIF', 'a.webp', 'a.png', 'a.jpeg', 'out/', 'out', join(dir, 'existing.mp4')].map(outputKindOf));
    expect(kinds).toEqual(['mp4', 'gif', 'webp', 'image', 'image', 'folder', 'folder', 'folder']);
    await expect(outputKindOf('clip.avi')).rejects.toThrow(/'\.avi' is not an output Kiln can write/);
  }));

  it('checks an output before any work is done', () => withTempDir(async (dir) => {
    await expect(checkOutputPath(join(dir, 'one.png'), 9)).rejects.toThrow(/can hold one frame, but there will be 9/);
    await writeFile(join(dir, 'keep.txt'), 'mine');
    await expect(checkOutputPath(dir)).rejects.toThrow(/already holds other files \(keep\.txt\)/);
    expect(await checkOutputPath(join(dir, 'new/'))).toBe('folder');
  }));

  it('gives clear errors for missing, empty and unknown inputs', () => withTempDir(async (dir) => {
    await expect(readMedia(join(dir, 'nope.mp4'))).rejects.toThrow(/nope\.mp4: no such file or folder/);
    await writeFile(join(dir, 'empty.png'), '');
    await expect(readMedia(join(dir, 'empty.png'))).rejects.toThrow(/the file is empty/);
    await writeFile(join(dir, 'data.bin'), 'hello, not media');
    const err = await rejection(readMedia(join(dir, 'data.bin')));
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).userFacing).toBe(true);
    expect((err as Error).message).toMatch(/cannot tell what kind of media .*data\.bin is/);
    await writeFile(join(dir, 'broken.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]));
    await expect(readMedia(join(dir, 'broken.png'))).rejects.toThrow(/cannot decode .*broken\.png as an image/);
  }));
});

describe.skipIf(!hasFfmpeg)(ffmpegSuite, () => {
  it('writes an H.264 mp4 and reads it back closely', () => withTempDir(async (dir) => {
    const clip = movingSquares();
    const path = join(dir, 'clip.mp4');
    let reported = 0;
    await writeVideo(path, clip, { onFrame: (n) => { reported = n; } });
    expect(reported).toBe(9);
    expect(await probeVideo(path)).toMatchObject({ width: 32, height: 24, fps: 24, frameCount: 9 });
    const back = await readMedia(path);
    expect(back).toMatchObject({ kind: 'video', width: 32, height: 24, count: 9, fps: 24 });
    // 4:2:0 chroma smears the saturated edges of a tiny image; the squares stay in place.
    expect(pixelDiff(back.data, clip.data).mean).toBeLessThan(12);
    expectSquaresAt(back, 25);
    expect((await readdir(dir))).toEqual(['clip.mp4']);
  }));

  it('pads odd sizes to even ones and honours maxFrames', () => withTempDir(async (dir) => {
    const path = join(dir, 'odd.mp4');
    await writeVideo(path, movingSquares(5, 31, 23), { fps: 12 });
    const back = await readVideo(path, { maxFrames: 3 });
    expect(back).toMatchObject({ width: 32, height: 24, count: 3, fps: 12 });
  }));

  it('applies rotation metadata', () => withTempDir(async (dir) => {
    // A quarter-turn tag: ffmpeg decodes upright, so width and height swap.
    const { runToolOrThrow, ffmpegCommand } = await import('../../../runtime/media/ffmpeg.ts');
    const plain = join(dir, 'plain.mp4');
    await writeVideo(plain, movingSquares(1, 32, 24));
    const rotated = join(dir, 'rotated.mp4');
    await runToolOrThrow(ffmpegCommand(), ['-v', 'error', '-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated], 'tagging');
    const back = await readVideo(rotated);
    expect(back).toMatchObject({ width: 24, height: 32, count: 1 });
  }));

  it('recognises a video by its bytes, whatever its name', () => withTempDir(async (dir) => {
    const path = join(dir, 'clip.mp4');
    await writeVideo(path, movingSquares(5));
    await copyFile(path, join(dir, 'clip.data'));
    expect(await readMedia(join(dir, 'clip.data'))).toMatchObject({ kind: 'video', count: 5 });
  }));

  it('reports a damaged video with ffmpeg\'s own words', () => withTempDir(async (dir) => {
    const path = join(dir, 'bad.mp4');
    await writeFile(path, Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom'), Buffer.alloc(64, 1)]));
    const err = await rejection(readMedia(path));
    expect(err).toBeInstanceOf(MediaError);
    expect(err.message).toMatch(/cannot read .*bad\.mp4 as a video: ffprobe exited with status 1\.\nffmpeg said:\n {2}\S/);
  }));
});

it('makeFrames rejects inconsistent sizes (a bug, not a user error)', () => {
  expect(() => makeFrames(2, 2, 1, new Uint8Array(5))).toThrow(RangeError);
});
