import { describe, expect, it } from 'vitest';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { movingSquares, rejection, withTempDir } from './helpers.ts';
import { writeFileAtomic, writeFolderAtomic } from '../../../runtime/media/atomic.ts';
import { readMedia, writeVideo } from '../../../runtime/media/media.ts';
import { FfmpegError, FfmpegMissingError, MediaError } from '../../../runtime/media/errors.ts';
import { isUserError } from '../../../cli/errors.ts';

/** Runs `fn` with environment variables set, restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const isRoot = process.getuid?.() === 0;

describe('atomic writes', () => {
  it('leaves neither a partial file nor a temporary one when the writer fails', () => withTempDir(async (dir) => {
    const target = join(dir, 'out.mp4');
    await writeFile(target, 'previous output');
    const failing = writeFileAtomic(target, async (temp) => {
      await writeFile(temp, 'half of a video');
      throw new Error('encoder crashed');
    });
    await expect(failing).rejects.toThrow('encoder crashed');
    expect(await readdir(dir)).toEqual(['out.mp4']);
    expect(await readFile(target, 'utf8')).toBe('previous output');
  }));

  it('keeps an earlier frame folder when writing a new one fails', () => withTempDir(async (dir) => {
    const target = join(dir, 'frames');
    await mkdir(target);
    await writeFile(join(target, 'frame_00000.png'), 'old');
    const failing = writeFolderAtomic(target, async (temp) => {
      await writeFile(join(temp, 'frame_00000.png'), 'new');
      await writeFile(join(temp, 'frame_00001.png'), 'new');
      throw new Error('disk trouble');
    }, () => true);
    await expect(failing).rejects.toThrow('disk trouble');
    expect(await readdir(dir)).toEqual(['frames']);
    expect(await readdir(target)).toEqual(['frame_00000.png']);
    expect(await readFile(join(target, 'frame_00000.png'), 'utf8')).toBe('old');
  }));

  it('never deletes files of the user\'s in a folder it would replace', () => withTempDir(async (dir) => {
    const target = join(dir, 'shots');
    await mkdir(target);
    await writeFile(join(target, 'holiday.jpg'), 'precious');
    const err = await rejection(writeVideo(target + '/', movingSquares(5)));
    expect(err).toBeInstanceOf(MediaError);
    expect(err.message).toMatch(/already holds other files \(holiday\.jpg\)/);
    expect(await readdir(target)).toEqual(['holiday.jpg']);
    expect(await readdir(dir)).toEqual(['shots']);
  }));

  it('refuses to write frames where a file is', () => withTempDir(async (dir) => {
    await writeFile(join(dir, 'out'), 'a file');
    await expect(writeVideo(join(dir, 'out/'), movingSquares(5))).rejects.toThrow(/it is a file, not a folder/);
    expect(await readFile(join(dir, 'out'), 'utf8')).toBe('a file');
  }));

  it.skipIf(isRoot)(`reports a read-only folder clearly and leaves nothing${isRoot ? ' (SKIPPED: root can write anywhere)' : ''}`, () => withTempDir(async (dir) => {
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o555);
    try {
      const err = await rejection(writeVideo(join(locked, 'clip.gif'), movingSquares(5)));
      expect(isUserError(err)).toBe(true);
      expect(err.message).toMatch(/cannot write .*clip\.gif: permission denied/);
      expect(await readdir(locked)).toEqual([]);
    } finally {
      await chmod(locked, 0o755);
    }
  }));
});

describe('ffmpeg failures', () => {
  it('keeps the previous mp4 and no temporary file when ffmpeg fails midway, quoting its stderr', () => withTempDir(async (dir) => {
    // A stand-in ffmpeg: answers -version, then reads a little input, writes a partial file to
    // its output path (the last argument) and fails.
    const fake = join(dir, 'fake-ffmpeg');
    await writeFile(fake, [
      '#!/bin/sh',
      'if [ "$1" = "-version" ]; then echo "fake ffmpeg"; exit 0; fi',
      'for last; do :; done',
      'head -c 1000 >/dev/null',
      'printf partial > "$last"',
      'echo "Error: codec exploded at frame 3" >&2',
      'exit 1',
    ].join('\n'));
    await chmod(fake, 0o755);
    const out = join(dir, 'out');
    await mkdir(out);
    await writeFile(join(out, 'clip.mp4'), 'previous output');
    const err = await withEnv({ KILN_FFMPEG: fake }, () => rejection(writeVideo(join(out, 'clip.mp4'), movingSquares(9, 64, 48))));
    expect(err).toBeInstanceOf(FfmpegError);
    expect(err.message).toMatch(/cannot encode .*clip\.mp4: fake-ffmpeg exited with status 1\.\nffmpeg said:\n {2}Error: codec exploded at frame 3/);
    expect(await readdir(out)).toEqual(['clip.mp4']);
    expect(await readFile(join(out, 'clip.mp4'), 'utf8')).toBe('previous output');
  }));

  it('says to install ffmpeg or pick another format when it is missing', () => withTempDir(async (dir) => {
    const missing = join(dir, 'no-such-ffmpeg');
    await withEnv({ KILN_FFMPEG: missing, KILN_FFPROBE: missing }, async () => {
      const err = await rejection(writeVideo(join(dir, 'clip.mp4'), movingSquares(5)));
      expect(err).toBeInstanceOf(FfmpegMissingError);
      expect(isUserError(err)).toBe(true);
      expect(err.message).toContain(`writing ${join(dir, 'clip.mp4')} needs ffmpeg, but '${missing}' could not be run`);
      expect(err.message).toMatch(/apt-get install ffmpeg/);
      expect(err.message).toMatch(/\.gif.*\.webp.*folder of PNG frames/);

      await writeFile(join(dir, 'in.mp4'), Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom'), Buffer.alloc(16)]));
      const readErr = await rejection(readMedia(join(dir, 'in.mp4')));
      expect(readErr).toBeInstanceOf(FfmpegMissingError);
      expect(readErr.message).toMatch(/reading .*in\.mp4 needs ffmpeg.*folder of PNG\/JPEG frames/s);
    });
    expect((await readdir(dir)).sort()).toEqual(['in.mp4']);
  }));
});

it('reports an output path through a file clearly', () => withTempDir(async (dir) => {
  await writeFile(join(dir, 'notes.txt'), 'a file');
  const err = await rejection(writeVideo(join(dir, 'notes.txt', 'clip.gif'), movingSquares(5)));
  expect(isUserError(err)).toBe(true);
  expect(err.message).toMatch(/cannot create the folder for .*notes\.txt\/clip\.gif/);
  expect(await readdir(dir)).toEqual(['notes.txt']);
}));
