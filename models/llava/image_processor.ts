/**
 * The reference image as LLaVA's vision tower sees it: transformers' CLIPImageProcessor with
 * the settings of LLaVA's checkpoints (spec/pipeline.md §7.1): the short side resized to the
 * crop size with PIL's bicubic filter, the centre cropped square, scaled to [0, 1] and
 * normalised with CLIP's mean and std, in float32 as numpy computes it.
 */
import type { Frames } from '../../runtime/media/frames.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { resizePil } from '../i2v/reference_image.ts';

/** CLIP's pixel statistics (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

const f32 = Math.fround;

/** get_resize_output_image_size(shortest_edge): (height, width) with the short side `size`, the long one truncated. */
export function shortestEdgeSize(height: number, width: number, size: number): [number, number] {
  const short = Math.min(height, width);
  const long = Math.trunc((size * Math.max(height, width)) / short);
  return width <= height ? [long, size] : [size, long];
}

/** One RGB image as pixel values [1, 3, size, size]. */
export function clipImagePixels(image: Frames, size: number): HostTensor {
  if (image.count !== 1) throw new RangeError(`the image processor takes one image, got ${image.count} frames`);
  const [h, w] = shortestEdgeSize(image.height, image.width, size);
  const resized = resizePil(image, w, h, 'bicubic');
  const top = Math.floor((h - size) / 2);
  const left = Math.floor((w - size) / 2);
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    const mean = f32(CLIP_MEAN[c]);
    const std = f32(CLIP_STD[c]);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = resized.data[((top + y) * w + left + x) * 3 + c];
        out[(c * size + y) * size + x] = f32(f32(f32(v * (1 / 255)) - mean) / std);
      }
    }
  }
  return { dtype: 'F32', shape: [1, 3, size, size], data: out };
}

/** A black image of the same size: the negative prompt's reference image under guidance. */
export function blackImage(image: Frames): Frames {
  return { width: image.width, height: image.height, count: 1, data: new Uint8Array(image.width * image.height * 3) };
}
