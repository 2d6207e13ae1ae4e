/**
 * The I2V reference image as upstream hands it to the VAE (spec/pipeline.md §3.2 step 5):
 * torchvision's Resize(min(bucket)) on a PIL image, CenterCrop(bucket), ToTensor and
 * Normalize(0.5, 0.5), giving [1, 3, 1, h, w] float32 pixels in [-1, 1].
 *
 * PIL resizes 8-bit images with a fixed-point separable filter, horizontal pass first, each pass
 * rounded back to uint8 (the golden README's notes spell it out). A float resampler differs by up
 * to one level on a fifth of the pixels, so that arithmetic is reproduced here exactly.
 */
import type { Frames } from '../../runtime/media/frames.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { roundHalfEven } from '../common/round_half_even.ts';
import { i2vBucket, type Bucket, type I2vResolution } from './buckets.ts';

/** PIL's fixed-point precision for 8-bit resampling: 32 bits less 8 for the pixel, 2 for headroom. */
const PRECISION_BITS = 22;

interface PassCoefficients {
  /** First input index of each output's taps. */
  readonly first: Int32Array;
  /** Number of taps of each output. */
  readonly count: Int32Array;
  /** Fixed-point weights, `taps` per output. */
  readonly weights: Int32Array;
  readonly taps: number;
}

/** PIL's 8-bit resampling filters: support (half-width at scale 1) and kernel. */
export type PilFilter = 'bilinear' | 'bicubic';

const FILTERS: { readonly [F in PilFilter]: { readonly support: number; readonly kernel: (x: number) => number } } = {
  bilinear: { support: 1, kernel: (x) => { const t = Math.abs(x); return t < 1 ? 1 - t : 0; } },
  // Keys' cubic convolution with a = -0.5, as PIL writes it.
  bicubic: {
    support: 2,
    kernel: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

/**
 * One pass's taps for inSize → outSize (PIL's precompute_coeffs, then normalize_coeffs_8bpc):
 * the filter widens by the scale when shrinking (antialiasing), weights are normalised in
 * double and made fixed-point by rounding half away from zero.
 */
function passCoefficients(inSize: number, outSize: number, filter: PilFilter): PassCoefficients {
  const { support: base, kernel } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = base * filterScale;
  // PIL multiplies by the reciprocal rather than dividing; kept so the weights round alike.
  const inverseScale = 1 / filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let x = 0; x < outSize; x++) {
    const center = (x + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - lo;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      k[j] = kernel((j + lo - center + 0.5) * inverseScale);
      sum += k[j];
    }
    for (let j = 0; j < n; j++) {
      const w = sum === 0 ? k[j] : k[j] / sum;
      weights[x * taps + j] = Math.trunc(w < 0 ? -0.5 + w * 2 ** PRECISION_BITS : 0.5 + w * 2 ** PRECISION_BITS);
    }
    first[x] = lo;
    count[x] = n;
  }
  return { first, count, weights, taps };
}

const clip8 = (acc: number): number => (acc >= 2 ** (PRECISION_BITS + 8) ? 255 : acc <= 0 ? 0 : Math.floor(acc / 2 ** PRECISION_BITS));

/** One pass of the separable filter, along the rows (horizontal) or the columns. */
function resamplePass(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, horizontal: boolean, filter: PilFilter): Uint8Array {
  const c = horizontal ? passCoefficients(width, outWidth, filter) : passCoefficients(height, outHeight, filter);
  const out = new Uint8Array(outWidth * outHeight * 3);
  const half = 2 ** (PRECISION_BITS - 1);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const o = horizontal ? x : y;
      const first = c.first[o];
      const n = c.count[o];
      for (let ch = 0; ch < 3; ch++) {
        // |sum| stays below 2^31 (255 · 2^22 · the weights' absolute sum, under 2 for bicubic), so doubles add it exactly.
        let acc = half;
        for (let j = 0; j < n; j++) {
          const i = horizontal ? (y * width + first + j) * 3 + ch : ((first + j) * width + x) * 3 + ch;
          acc += src[i] * c.weights[o * c.taps + j];
        }
        out[(y * outWidth + x) * 3 + ch] = clip8(acc);
      }
    }
  }
  return out;
}

/** PIL's `Image.resize((width, height), filter)` of an 8-bit RGB image; an axis whose size stays is not resampled. */
export function resizePil(image: Frames, width: number, height: number, filter: PilFilter): Frames {
  if (image.count !== 1) throw new RangeError(`resizePil: one image expected, got ${image.count} frames`);
  let data = image.data;
  let w = image.width;
  const h = image.height;
  if (width !== w) {
    data = resamplePass(data, w, h, width, h, true, filter);
    w = width;
  }
  if (height !== h) data = resamplePass(data, w, h, w, height, false, filter);
  return { width, height, count: 1, data };
}

/** PIL's `Image.resize((width, height), BILINEAR)`, what torchvision's Resize uses on PIL images. */
export const resizeBilinearPil = (image: Frames, width: number, height: number): Frames => resizePil(image, width, height, 'bilinear');

/** torchvision Resize(size)'s output (height, width): the short side becomes `size`, the long side follows, truncated. */
export function resizedShortSide(height: number, width: number, size: number): Bucket {
  if (width <= height) return [Math.trunc((size * height) / width), size];
  return [size, Math.trunc((size * width) / height)];
}

/**
 * Where torchvision's CenterCrop starts along an axis: round((in − out) / 2), halves to even; a
 * crop larger than the image pads (out − in) // 2 zeros in front instead.
 */
const cropOffset = (size: number, crop: number): number => (crop > size ? -Math.floor((crop - size) / 2) : roundHalfEven((size - crop) / 2));

/**
 * The reference pixels for a bucket: Resize(min(bucket)), CenterCrop(bucket) (offsets
 * round((in − out) / 2), halves to even; zero padding where the crop is larger, as torchvision
 * pads), ToTensor, Normalize(0.5, 0.5) — float32, [1, 3, 1, h, w].
 */
export function referencePixels(image: Frames, bucket: Bucket): HostTensor {
  const [bh, bw] = bucket;
  const [rh, rw] = resizedShortSide(image.height, image.width, Math.min(bh, bw));
  const resized = resizeBilinearPil(image, rw, rh);
  const top = cropOffset(rh, bh);
  const left = cropOffset(rw, bw);
  const out = new Float32Array(3 * bh * bw);
  const f32 = Math.fround;
  for (let y = 0; y < bh; y++) {
    const sy = y + top;
    for (let x = 0; x < bw; x++) {
      const sx = x + left;
      const inside = sy >= 0 && sy < rh && sx >= 0 && sx < rw;
      for (let ch = 0; ch < 3; ch++) {
        const u8 = inside ? resized.data[(sy * rw + sx) * 3 + ch] : 0;
        out[(ch * bh + y) * bw + x] = f32(f32(f32(u8 / 255) - 0.5) / 0.5);
      }
    }
  }
  return { dtype: 'F32', shape: [1, 3, 1, bh, bw], data: out };
}

/** The bucket and the VAE's input for a reference image at an I2V resolution (and sequence-parallel degree). */
export function prepareReferenceImage(image: Frames, resolution: I2vResolution, spDegree = 1): { bucket: Bucket; pixels: HostTensor } {
  const bucket = i2vBucket(image.height, image.width, resolution, spDegree);
  return { bucket, pixels: referencePixels(image, bucket) };
}
