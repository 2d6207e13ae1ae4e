/**
 * The size buckets of image-to-video sampling (spec/pipeline.md §3.2, §4): a reference image is
 * resized and cropped to the bucket whose aspect ratio is closest to its own, from a list of
 * (height, width) pairs that are multiples of 32 with about base² pixels each. Everything is
 * upstream's exact integer and float64 arithmetic, so the chosen bucket always matches.
 */
import { roundHalfEven } from '../common/round_half_even.ts';

/** The bucket base size of each I2V resolution. */
export const RESOLUTION_BASES = { '360p': 480, '540p': 720, '720p': 960 } as const;
export type I2vResolution = keyof typeof RESOLUTION_BASES;

export const isI2vResolution = (s: string): s is I2vResolution => Object.hasOwn(RESOLUTION_BASES, s);

/** (height, width) in pixels. */
export type Bucket = readonly [height: number, width: number];

export class BucketError extends Error {
  readonly userFacing = true;
  override name = 'BucketError';
}

/**
 * Python's round(x, digits). toFixed rounds the double's exact decimal value, as Python does;
 * the two could only differ on an exact tie, and no double lies exactly halfway between two
 * decimals with five or more places (the halfway point needs a factor 5^digits in its denominator).
 */
export const roundDigits = (x: number, digits: number): number => Number(x.toFixed(digits));

/**
 * Upstream `generate_crop_size_list(base, patch, max_ratio)`: every (wp·patch, hp·patch) with
 * wp·hp ≤ round((base/patch)²) on the staircase from (P, 1) down, whose sides differ by at most
 * `maxRatio`; read as (height, width), tall and narrow first.
 */
export function generateCropSizeList(base: number, patch = 32, maxRatio = 4): Bucket[] {
  if (!(base > 0) || !Number.isInteger(patch) || patch < 1) throw new BucketError(`bucket base ${base} and patch ${patch}: expected a positive base and a positive integer patch`);
  if (!(maxRatio >= 1)) throw new BucketError(`max_ratio ${maxRatio}: expected at least 1`);
  const patches = roundHalfEven((base / patch) ** 2);
  const list: Bucket[] = [];
  let wp = patches;
  let hp = 1;
  while (wp > 0) {
    if (Math.max(wp, hp) / Math.min(wp, hp) <= maxRatio) list.push([wp * patch, hp * patch]);
    if ((hp + 1) * wp <= patches) hp += 1;
    else wp -= 1;
  }
  return list;
}

/** round(h / w, 5) of each bucket: the ratios upstream compares. */
export const bucketRatios = (buckets: readonly Bucket[]): number[] => buckets.map(([h, w]) => roundDigits(h / w, 5));

/**
 * Upstream `get_closest_ratio`: an image at least as tall as wide takes the nearest bucket that
 * is not relatively taller than it; a wide image the nearest strictly taller one (so resizing
 * the short side always covers the bucket). The first in list order wins ties.
 */
export function closestBucket(height: number, width: number, buckets: readonly Bucket[]): { bucket: Bucket; ratio: number } {
  const aspect = height / width;
  const ratios = bucketRatios(buckets);
  let best = -1;
  for (let i = 0; i < ratios.length; i++) {
    const d = ratios[i] - aspect;
    if (aspect >= 1 ? d > 0 : d <= 0) continue;
    if (best < 0 || Math.abs(d) < Math.abs(ratios[best] - aspect)) best = i;
  }
  if (best < 0) throw new BucketError(`no bucket fits a ${width}x${height} image (aspect ${aspect.toFixed(4)}): the buckets' aspect ratios run from ${ratios[ratios.length - 1]} to ${ratios[0]}`);
  return { bucket: buckets[best], ratio: ratios[best] };
}

/**
 * The bucket I2V sampling resizes a height × width reference image to (upstream `predict`).
 * With sequence parallelism over `spDegree` GPUs (xDiT), a bucket neither of whose sides
 * divides into spDegree · 16 is replaced by the closest among the buckets with such a side
 * (upstream asks for ALLOW_RESIZE_FOR_SP=1 before doing so; choosing the degree is that consent here).
 */
export function i2vBucket(height: number, width: number, resolution: I2vResolution, spDegree = 1): Bucket {
  for (const [name, v] of [['height', height], ['width', width], ['sp degree', spDegree]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new BucketError(`image ${name} ${v}: expected a positive integer`);
  }
  const buckets = generateCropSizeList(RESOLUTION_BASES[resolution], 32);
  const { bucket } = closestBucket(height, width, buckets);
  if (spDegree === 1) return bucket;
  const divisor = spDegree * 16;
  if (bucket[0] % divisor === 0 || bucket[1] % divisor === 0) return bucket;
  const divisible = buckets.filter(([h, w]) => h % divisor === 0 || w % divisor === 0);
  if (divisible.length === 0) throw new BucketError(`no ${resolution} bucket has a side divisible by ${divisor} (sequence parallel degree ${spDegree} × 16): use a smaller degree`);
  return closestBucket(height, width, divisible).bucket;
}
