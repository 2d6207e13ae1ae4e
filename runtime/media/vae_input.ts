/**
 * Fitting frames to what the causal 3D VAE can take (spec/vae.md §4.3): a frame count of the
 * form 4k+1 (1, 5, 9, 13, ...; one image is k = 0) and a width and height that are multiples
 * of 8. A mismatch is either an error that says how to fix it, or is fixed by a policy:
 *   frames: 'trim' keeps the largest 4k+1 <= T; 'pad' repeats the last frame up to the next 4k+1.
 *   size:   'crop' center-crops down to multiples of 8; 'pad' replicates edge pixels out to the
 *           next multiples (split evenly, the odd pixel at the right/bottom); 'resize' scales each
 *           side to its nearest multiple of 8 (bilinear, pixel centres aligned).
 * The option names mirror `kiln vae encode`'s flags, which the error messages suggest.
 * Everything here is a pure function of its arguments.
 */
import { CHANNELS, frameBytes, makeFrames, type Frames } from './frames.ts';
import { MediaError } from './errors.ts';

export const SPATIAL_MULTIPLE = 8;
export const TEMPORAL_MULTIPLE = 4;

export type FramePolicy = 'error' | 'trim' | 'pad';
export type SizePolicy = 'error' | 'crop' | 'pad' | 'resize';
/** Shorthand for both axes: 'trim' = trim + crop, 'pad' = pad + pad, 'resize' = error + resize. */
export type MismatchPolicy = 'error' | 'trim' | 'pad' | 'resize';

export interface VaeInputOptions {
  onMismatch?: MismatchPolicy;
  /** Overrides what `onMismatch` implies for the frame count. */
  frames?: FramePolicy;
  /** Overrides what `onMismatch` implies for width and height. */
  size?: SizePolicy;
  /** Names the input in error messages, e.g. the file path. */
  name?: string;
}

export interface PreparedVaeInput {
  readonly frames: Frames;
  /** What was done, for the user: e.g. "trimmed 12 frames to 9 (dropped the last 3)". Empty if nothing. */
  readonly changes: readonly string[];
}

const POLICIES: { readonly [K in MismatchPolicy]: { frames: FramePolicy; size: SizePolicy } } = {
  error: { frames: 'error', size: 'error' },
  trim: { frames: 'trim', size: 'crop' },
  pad: { frames: 'pad', size: 'pad' },
  resize: { frames: 'error', size: 'resize' },
};

/** The nearest valid frame counts around `count`: `below` <= count <= `above`. */
export function vaeFrameCounts(count: number): { below: number; above: number } {
  const k = (count - 1) / TEMPORAL_MULTIPLE;
  return { below: TEMPORAL_MULTIPLE * Math.floor(k) + 1, above: TEMPORAL_MULTIPLE * Math.ceil(k) + 1 };
}

/** Target side lengths for each size policy. `crop` is 0 when the side is shorter than 8. */
export function vaeSideTargets(side: number): { crop: number; pad: number; resize: number } {
  const m = SPATIAL_MULTIPLE;
  return {
    crop: Math.floor(side / m) * m,
    pad: Math.ceil(side / m) * m,
    resize: Math.max(m, Math.round(side / m) * m),
  };
}

/** Checks `frames` against the VAE's shape rules and applies the chosen fixes, or throws MediaError. */
export function checkVaeInput(frames: Frames, options: VaeInputOptions = {}): PreparedVaeInput {
  const base = POLICIES[options.onMismatch ?? 'error'];
  const framePolicy = options.frames ?? base.frames;
  const sizePolicy = options.size ?? base.size;
  const { below, above } = vaeFrameCounts(frames.count);
  const frameOk = below === frames.count;
  const widthOk = frames.width % SPATIAL_MULTIPLE === 0;
  const heightOk = frames.height % SPATIAL_MULTIPLE === 0;

  const problems: string[] = [];
  if (!frameOk && framePolicy === 'error') problems.push(frameProblem(frames.count, below, above));
  if (sizePolicy === 'error') {
    if (!widthOk) problems.push(sideProblem('width', frames.width));
    if (!heightOk) problems.push(sideProblem('height', frames.height));
  }
  if (sizePolicy === 'crop') {
    // Cropping a side shorter than 8 would leave nothing.
    for (const [axis, side] of [['width', frames.width], ['height', frames.height]] as const) {
      if (side < SPATIAL_MULTIPLE) {
        problems.push(`${axis} ${side} is smaller than ${SPATIAL_MULTIPLE}, so it cannot be cropped to a multiple of ${SPATIAL_MULTIPLE}: pass --pad or --resize instead`);
      }
    }
  }
  if (problems.length > 0) {
    const what = options.name ? `${options.name} (${describe(frames)})` : describe(frames);
    const lines = problems.map((p) => `  - ${p}`).join('\n');
    throw new MediaError(`${what} does not fit the VAE, which needs 4k+1 frames and a width and height that are multiples of ${SPATIAL_MULTIPLE}:\n${lines}`);
  }

  let out = frames;
  const changes: string[] = [];
  if (!frameOk && framePolicy === 'trim') {
    out = trimFrames(out, below);
    changes.push(`trimmed ${frames.count} frames to ${below} (dropped the last ${frames.count - below})`);
  } else if (!frameOk && framePolicy === 'pad') {
    out = padFrames(out, above);
    changes.push(`padded ${frames.count} frames to ${above} (repeated the last frame ${times(above - frames.count)})`);
  }
  if (!widthOk || !heightOk) {
    const tw = vaeSideTargets(out.width);
    const th = vaeSideTargets(out.height);
    const from = `${out.width}×${out.height}`;
    if (sizePolicy === 'crop') {
      out = centerCrop(out, tw.crop, th.crop);
      changes.push(`center-cropped ${from} to ${out.width}×${out.height}`);
    } else if (sizePolicy === 'pad') {
      out = edgePad(out, tw.pad, th.pad);
      changes.push(`edge-padded ${from} to ${out.width}×${out.height}`);
    } else if (sizePolicy === 'resize') {
      out = resizeBilinear(out, tw.resize, th.resize);
      changes.push(`resized ${from} to ${out.width}×${out.height}`);
    }
  }
  return { frames: out, changes };
}

function describe(f: Frames): string {
  return f.count === 1 ? `the ${f.width}×${f.height} image` : `the ${f.width}×${f.height} video`;
}

function times(n: number): string {
  return n === 1 ? '1 time' : `${n} times`;
}

function frameProblem(count: number, below: number, above: number): string {
  const drop = count - below;
  return `the video has ${count} frames; the VAE needs 4k+1 frames (${below} or ${above}): ` +
    `pass --trim to drop the last ${drop === 1 ? 'frame' : `${drop} frames`} or --pad to repeat the last frame ${times(above - count)}`;
}

function sideProblem(axis: 'width' | 'height', side: number): string {
  const t = vaeSideTargets(side);
  const fixes = [
    ...(t.crop > 0 ? [`--crop to center-crop to ${t.crop}`] : []),
    `--pad to edge-pad to ${t.pad}`,
    `--resize to scale to ${t.resize}`,
  ];
  const joined = fixes.length === 2 ? fixes.join(' or ') : `${fixes.slice(0, -1).join(', ')} or ${fixes[fixes.length - 1]}`;
  return `${axis} ${side} is not a multiple of ${SPATIAL_MULTIPLE}: pass ${joined}`;
}

/** The first `count` frames (a copy). */
export function trimFrames(f: Frames, count: number): Frames {
  if (!Number.isInteger(count) || count < 1 || count > f.count) throw new RangeError(`trimFrames: cannot keep ${count} of ${f.count} frames`);
  return makeFrames(f.width, f.height, count, f.data.slice(0, count * frameBytes(f)));
}

/** `count` frames: all of `f`, then its last frame repeated. */
export function padFrames(f: Frames, count: number): Frames {
  if (!Number.isInteger(count) || count < f.count) throw new RangeError(`padFrames: cannot pad ${f.count} frames to ${count}`);
  const n = frameBytes(f);
  const out = makeFrames(f.width, f.height, count);
  out.data.set(f.data);
  const last = f.data.subarray((f.count - 1) * n, f.count * n);
  for (let t = f.count; t < count; t++) out.data.set(last, t * n);
  return out;
}

/** The centred `width`×`height` window (the odd pixel left over goes to the right/bottom). */
export function centerCrop(f: Frames, width: number, height: number): Frames {
  if (width > f.width || height > f.height) throw new RangeError(`centerCrop: ${width}×${height} is larger than ${f.width}×${f.height}`);
  const x0 = Math.floor((f.width - width) / 2);
  const y0 = Math.floor((f.height - height) / 2);
  return remap(f, width, height, (x) => x + x0, (y) => y + y0);
}

/** Grows to `width`×`height` by repeating edge pixels, split evenly (the odd pixel right/bottom). */
export function edgePad(f: Frames, width: number, height: number): Frames {
  if (width < f.width || height < f.height) throw new RangeError(`edgePad: ${width}×${height} is smaller than ${f.width}×${f.height}`);
  const left = Math.floor((width - f.width) / 2);
  const top = Math.floor((height - f.height) / 2);
  const clampTo = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  return remap(f, width, height, (x) => clampTo(x - left, f.width), (y) => clampTo(y - top, f.height));
}

/** Copies pixel (srcX(x), srcY(y)) to (x, y) in every frame. */
function remap(f: Frames, width: number, height: number, srcX: (x: number) => number, srcY: (y: number) => number): Frames {
  const out = makeFrames(width, height, f.count);
  const xs = Int32Array.from({ length: width }, (_, x) => srcX(x));
  let o = 0;
  for (let t = 0; t < f.count; t++) {
    for (let y = 0; y < height; y++) {
      const row = (t * f.height + srcY(y)) * f.width;
      for (let x = 0; x < width; x++) {
        const s = (row + xs[x]) * CHANNELS;
        out.data[o++] = f.data[s];
        out.data[o++] = f.data[s + 1];
        out.data[o++] = f.data[s + 2];
      }
    }
  }
  return out;
}

/**
 * Bilinear resampling with pixel centres aligned (a destination pixel d samples the source at
 * (d + 0.5) * in / out - 0.5, clamped to the edge), no antialiasing: meant for the few-pixel
 * size changes that fitting to multiples of 8 needs, not for large downscales.
 */
export function resizeBilinear(f: Frames, width: number, height: number): Frames {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeBilinear: bad size ${width}×${height}`);
  }
  const xs = samplePositions(f.width, width);
  const ys = samplePositions(f.height, height);
  const out = makeFrames(width, height, f.count);
  // Horizontal pass into floats (one frame at a time), then vertical pass with rounding.
  const rows = new Float64Array(f.height * width * CHANNELS);
  for (let t = 0; t < f.count; t++) {
    const src = t * frameBytes(f);
    for (let y = 0; y < f.height; y++) {
      for (let x = 0; x < width; x++) {
        const a = src + (y * f.width + xs.i0[x]) * CHANNELS;
        const b = src + (y * f.width + xs.i1[x]) * CHANNELS;
        const w = xs.frac[x];
        const r = (y * width + x) * CHANNELS;
        for (let c = 0; c < CHANNELS; c++) rows[r + c] = f.data[a + c] * (1 - w) + f.data[b + c] * w;
      }
    }
    const dst = t * frameBytes(out);
    for (let y = 0; y < height; y++) {
      const a = ys.i0[y] * width * CHANNELS;
      const b = ys.i1[y] * width * CHANNELS;
      const w = ys.frac[y];
      const o = dst + y * width * CHANNELS;
      for (let i = 0; i < width * CHANNELS; i++) out.data[o + i] = Math.round(rows[a + i] * (1 - w) + rows[b + i] * w);
    }
  }
  return out;
}

function samplePositions(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; frac: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const s = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), inSize - 1);
    i0[d] = Math.floor(s);
    i1[d] = Math.min(i0[d] + 1, inSize - 1);
    frac[d] = s - i0[d];
  }
  return { i0, i1, frac };
}
