/**
 * Video files through ffmpeg: reading any video ffmpeg can decode into RGB frames (ffprobe gives
 * the size, rotation and frame rate; ffmpeg streams `rgb24` raw frames on stdout), and writing
 * mp4 (H.264, yuv420p, BT.709, +faststart) from raw frames fed on stdin. H.264 with 4:2:0 chroma
 * needs even sizes, so an odd width or height is padded by one black column or row.
 */
import { frameAt, frameBytes, makeFrames, requirePositiveFps, type Clip, type Frames } from './frames.ts';
import { MediaError } from './errors.ts';
import { ffmpegCommand, ffprobeCommand, requireFfmpeg, runToolOrThrow } from './ffmpeg.ts';
import { statInput } from './input_file.ts';
import { writeFileAtomic } from './atomic.ts';

/** Frame rate assumed when a video does not state one. */
export const DEFAULT_VIDEO_FPS = 24;

export interface VideoInfo {
  /** Size of the frames as displayed (rotation applied). */
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** As stated by the container; may be absent or approximate. */
  readonly frameCount?: number;
}

const READ_ALTERNATIVES = 'or pass the video as a folder of PNG/JPEG frames or as an animated GIF or WebP';

interface ProbedStream {
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  tags?: { rotate?: string };
  side_data_list?: { rotation?: number }[];
}

/** "30000/1001" -> 29.97; undefined for "0/0" or anything unusable. */
export function parseFrameRate(rate: string | undefined): number | undefined {
  if (!rate) return undefined;
  const [num, den = '1'] = rate.split('/');
  const value = Number(num) / Number(den);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Reads a video's first video stream's size, rotation and frame rate with ffprobe. */
export async function probeVideo(path: string): Promise<VideoInfo> {
  const { stdout } = await runToolOrThrow(ffprobeCommand(), [
    '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:stream_tags=rotate:stream_side_data=rotation',
    '-print_format', 'json', path,
  ], `cannot read ${path} as a video`);
  let stream: ProbedStream | undefined;
  try {
    stream = (JSON.parse(stdout.toString('utf8')) as { streams?: ProbedStream[] }).streams?.[0];
  } catch {
    throw new MediaError(`cannot read ${path} as a video: ffprobe printed something that is not JSON.`);
  }
  if (!stream || !stream.width || !stream.height) {
    throw new MediaError(`${path} has no video stream: expected a video file such as an .mp4, or an image.`);
  }
  const rotation = Number(stream.side_data_list?.find((s) => s.rotation !== undefined)?.rotation ?? stream.tags?.rotate ?? 0);
  // ffmpeg applies the rotation while decoding, so a quarter turn swaps the sides.
  const quarter = Math.abs(Math.round(rotation / 90)) % 2 === 1;
  const frameCount = Number(stream.nb_frames);
  return {
    width: quarter ? stream.height : stream.width,
    height: quarter ? stream.width : stream.height,
    fps: parseFrameRate(stream.avg_frame_rate) ?? parseFrameRate(stream.r_frame_rate) ?? DEFAULT_VIDEO_FPS,
    ...(Number.isInteger(frameCount) && frameCount > 0 ? { frameCount } : {}),
  };
}

export interface ReadVideoOptions {
  /** Decode at most this many frames from the start. */
  maxFrames?: number;
}

/** Decodes a video file (anything ffmpeg reads: mp4, mov, mkv, webm, ...) into RGB frames. */
export async function readVideo(path: string, options: ReadVideoOptions = {}): Promise<Clip> {
  const { maxFrames } = options;
  if (maxFrames !== undefined && (!Number.isInteger(maxFrames) || maxFrames < 1)) {
    throw new RangeError(`readVideo: maxFrames must be a positive integer, got ${maxFrames}`);
  }
  await statInput(path);
  await requireFfmpeg(`reading ${path}`, READ_ALTERNATIVES, true);
  const info = await probeVideo(path);
  const perFrame = frameBytes(info);
  const expected = Math.min(maxFrames ?? Infinity, info.frameCount ?? 16);
  const sink = new GrowingBytes(perFrame * expected);
  await runToolOrThrow(ffmpegCommand(), [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-i', path,
    ...(maxFrames !== undefined ? ['-frames:v', String(maxFrames)] : []),
    '-an', '-sn', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
  ], `cannot decode ${path}`, { onStdout: (chunk) => sink.push(chunk) });
  const bytes = sink.bytes();
  if (bytes.length === 0) throw new MediaError(`${path} decoded to no frames: the video stream is empty or damaged.`);
  if (bytes.length % perFrame !== 0) {
    throw new MediaError(`cannot decode ${path}: ffmpeg gave ${bytes.length} bytes, not a whole number of ${info.width}×${info.height} frames ` +
      '(the size ffprobe reported). The file may use an unusual pixel aspect ratio or be damaged; convert it to frames first.');
  }
  return { ...makeFrames(info.width, info.height, bytes.length / perFrame, bytes), fps: info.fps };
}

/** A byte buffer that doubles as it fills, so a long decode is not held twice as chunks. */
class GrowingBytes {
  private buf: Uint8Array;
  private length = 0;
  constructor(initial: number) {
    this.buf = new Uint8Array(Math.max(initial, 1 << 16));
  }
  push(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + chunk.length));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.length;
  }
  bytes(): Uint8Array {
    return this.length === this.buf.length ? this.buf : this.buf.slice(0, this.length);
  }
}

export interface Mp4Options {
  fps: number;
  /** x264 constant rate factor: 0 lossless ... 51 worst; 18 (default) looks visually lossless. */
  crf?: number;
  /** Called after each frame is handed to the encoder. */
  onFrame?: (done: number) => void;
}

export const WRITE_ALTERNATIVES = 'or write an animated GIF (.gif) or WebP (.webp), or a folder of PNG frames (a name ending in /) instead';

/** Encodes frames as an H.264 mp4 through ffmpeg, atomically. */
export async function writeMp4(path: string, frames: Frames, options: Mp4Options): Promise<void> {
  const fps = requirePositiveFps(options.fps, `writing ${path}`);
  const crf = options.crf ?? 18;
  await requireFfmpeg(`writing ${path}`, WRITE_ALTERNATIVES);
  await writeFileAtomic(path, async (temp) => {
    await runToolOrThrow(ffmpegCommand(), [
      '-hide_banner', '-loglevel', 'error',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${frames.width}x${frames.height}`, '-framerate', String(fps), '-i', '-',
      '-an',
      // Even sizes for 4:2:0, then an explicit BT.709 conversion tagged as such, so players and
      // ffmpeg itself read the colours back as they were written.
      '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p',
      '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
      '-c:v', 'libx264', '-preset', 'medium', '-crf', String(crf),
      '-movflags', '+faststart', '-f', 'mp4', '-y', temp,
    ], `cannot encode ${path}`, {
      feed: async (write) => {
        for (let t = 0; t < frames.count; t++) {
          if (!(await write(frameAt(frames, t)))) return;
          options.onFrame?.(t + 1);
        }
      },
    });
  });
}
