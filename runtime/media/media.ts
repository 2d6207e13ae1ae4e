/**
 * Choosing a reader or writer for a path. Inputs are recognised by their first bytes (falling back
 * to the extension): a still image (PNG, JPEG, WebP, AVIF...), an animated GIF or WebP, a video
 * file (through ffmpeg), or a folder of frames. Outputs are chosen by name:
 *   `.mp4` -> H.264 through ffmpeg;  `.gif` / `.webp` -> animation looping forever;
 *   `.png` / `.jpg` / `.jpeg` -> one frame;  a name ending in `/`, an existing folder, or a name
 *   with no extension -> a folder of `frame_00000.png`, ...
 * Every write is atomic (see atomic.ts).
 */
import { extname } from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import { requirePositiveFps, type Frames } from './frames.ts';
import { MediaError } from './errors.ts';
import { readHead, statInput } from './input_file.ts';
import { readAnimation, readImage, writeAnimation, writeImage } from './image.ts';
import { readVideo, writeMp4, WRITE_ALTERNATIVES, DEFAULT_VIDEO_FPS } from './video.ts';
import { isFrameFileName, readFrameFolder, writeFrameFolder } from './frame_folder.ts';
import { requireFfmpeg } from './ffmpeg.ts';
import { trimFrames } from './vae_input.ts';

export type MediaKind = 'image' | 'animation' | 'video' | 'frames';

/** Frames read from any input; `fps` is set for animations and videos. */
export interface Media extends Frames {
  readonly kind: MediaKind;
  readonly fps?: number;
}

const VIDEO_EXTENSIONS = new Set(['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ts', '.mts', '.flv', '.wmv', '.ogv', '.3gp']);
const STILL_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.avif', '.tif', '.tiff', '.heic']);
const ANIMATION_EXTENSIONS = new Set(['.gif', '.webp']);
// ISO base media brands that hold still images rather than video.
const IMAGE_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'mif1', 'msf1']);

type Sniffed = 'image' | 'animation' | 'video' | undefined;

/** What a file holds, from its first bytes. */
export function sniffMedia(head: Uint8Array): Sniffed {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image';
  if (ascii(0, 4) === 'GIF8') return 'animation';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'animation';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return 'video';
  if (ascii(4, 8) === 'ftyp') return IMAGE_BRANDS.has(ascii(8, 12)) ? 'image' : 'video';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'video'; // Matroska / WebM
  return undefined;
}

/** Reads an image, an animation, a video or a folder of frames (at most `maxFrames` frames). */
export async function readMedia(path: string, options: { maxFrames?: number } = {}): Promise<Media> {
  const info = await statInput(path);
  if (info.isDirectory()) return { ...(await readFrameFolder(path, options)), kind: 'frames' };
  if (!info.isFile()) throw new MediaError(`cannot read ${path}: it is not a regular file or a folder.`);
  if (info.size === 0) throw new MediaError(`cannot read ${path}: the file is empty.`);
  const ext = extname(path).toLowerCase();
  const kind = sniffMedia(await readHead(path))
    ?? (VIDEO_EXTENSIONS.has(ext) ? 'video' : STILL_EXTENSIONS.has(ext) ? 'image' : ANIMATION_EXTENSIONS.has(ext) ? 'animation' : undefined);
  switch (kind) {
    case 'image': return { ...(await readImage(path)), kind: 'image' };
    case 'animation': {
      const all = await readAnimation(path);
      const clip = options.maxFrames !== undefined && all.count > options.maxFrames ? { ...trimFrames(all, options.maxFrames), fps: all.fps } : all;
      return clip.count === 1 ? { width: clip.width, height: clip.height, count: 1, data: clip.data, kind: 'image' } : { ...clip, kind: 'animation' };
    }
    case 'video': return { ...(await readVideo(path, options)), kind: 'video' };
    case undefined:
      throw new MediaError(`cannot tell what kind of media ${path} is. Expected an image (PNG, JPEG, WebP), an animated GIF or WebP, ` +
        'a video (mp4, mov, mkv, webm, ... read through ffmpeg) or a folder of PNG/JPEG frames.');
  }
}

export type OutputKind = 'mp4' | 'gif' | 'webp' | 'image' | 'folder';

/** What `writeVideo` would write at `path` (an existing folder counts as a folder output). */
export async function outputKindOf(path: string): Promise<OutputKind> {
  if (/[/\\]$/.test(path)) return 'folder';
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) return 'folder';
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '': return 'folder';
    case '.mp4': return 'mp4';
    case '.gif': return 'gif';
    case '.webp': return 'webp';
    case '.png': case '.jpg': case '.jpeg': return 'image';
    default:
      throw new MediaError(`cannot write ${path}: '${ext}' is not an output Kiln can write. ` +
        'Use .mp4 (needs ffmpeg), .gif, .webp, .png/.jpg for one frame, or a folder of PNG frames (a name ending in /).');
  }
}

/**
 * Checks, before any expensive work, that `writeVideo(path, ...)` can succeed as far as can be
 * told: a known output type, ffmpeg present for mp4, one frame for a still image, and no foreign
 * files in a folder that would be replaced. Returns the output kind.
 */
export async function checkOutputPath(path: string, frameCount?: number): Promise<OutputKind> {
  const kind = await outputKindOf(path);
  if (kind === 'mp4') await requireFfmpeg(`writing ${path}`, WRITE_ALTERNATIVES);
  if (kind === 'image' && frameCount !== undefined && frameCount > 1) {
    throw new MediaError(`${path} can hold one frame, but there will be ${frameCount}: write a video (.mp4, .gif, .webp) or a folder of frames (a name ending in /) instead.`);
  }
  if (kind === 'folder') {
    const existing = await readdir(path).catch(() => [] as string[]);
    const foreign = existing.filter((n) => !isFrameFileName(n));
    if (foreign.length > 0) {
      throw new MediaError(`cannot write frames to ${path}: the folder already holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}). ` +
        'Choose a new or empty folder, or remove those files.');
    }
  } else {
    const existing = await stat(path).catch(() => null);
    if (existing?.isDirectory()) throw new MediaError(`cannot write ${path}: a folder with that name exists. Choose another output name or remove the folder.`);
  }
  return kind;
}

export interface WriteVideoOptions {
  /** Frames per second (default 24); ignored for still images and frame folders. */
  fps?: number;
  /** mp4: x264 CRF (default 18). */
  crf?: number;
  /** WebP: quality 1-100 (default 90) or lossless. */
  quality?: number;
  lossless?: boolean;
  /** Progress, where the writer can report it (mp4 and frame folders): frames done so far. */
  onFrame?: (done: number) => void;
}

/** Writes frames as the output its name asks for (see the top of this file); atomic. */
export async function writeVideo(path: string, frames: Frames, options: WriteVideoOptions = {}): Promise<OutputKind> {
  const fps = requirePositiveFps(options.fps ?? DEFAULT_VIDEO_FPS, `writing ${path}`);
  const kind = await outputKindOf(path);
  switch (kind) {
    case 'mp4': await writeMp4(path, frames, { fps, crf: options.crf, onFrame: options.onFrame }); break;
    case 'gif': await writeAnimation(path, frames, 'gif', { fps }); break;
    case 'webp': await writeAnimation(path, frames, 'webp', { fps, quality: options.quality, lossless: options.lossless }); break;
    case 'image': await writeImage(path, frames); break;
    case 'folder': await writeFrameFolder(path, frames, options.onFrame); break;
  }
  return kind;
}
