/**
 * The golden adapter for upstream's HunyuanVideoSampler.predict as far as the reference image
 * goes (the `sampler_crop_buckets` case): the bucket chosen for each image size, resolution and
 * sequence-parallel degree; the pixels handed to the VAE; and the bucket lists with their ratios.
 */
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { makeFrames } from '../../runtime/media/frames.ts';
import { returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { bucketRatios, generateCropSizeList, i2vBucket, isI2vResolution, RESOLUTION_BASES, type I2vResolution } from './buckets.ts';
import { prepareReferenceImage } from './reference_image.ts';

const PREDICT = 'HunyuanVideoSampler.predict';

const tensor = (values: readonly number[], shape: readonly number[]): HostTensor => ({ dtype: 'F64', shape, data: Float64Array.from(values) });

function resolutionOf(c: GoldenCase, text: string): I2vResolution {
  const r = text.trim();
  if (!isI2vResolution(r)) throw new UnsupportedGoldenError(`${c.path}: resolution ${JSON.stringify(r)} is not one of ${Object.keys(RESOLUTION_BASES).join(', ')}`);
  return r;
}

/** The case's bucket bases must be upstream's (Kiln's buckets use those). */
function checkBases(c: GoldenCase): void {
  const text = c.metadata.bucket_base_sizes;
  if (text === undefined) return;
  const bases = JSON.parse(text) as Record<string, number>;
  for (const [res, base] of Object.entries(bases)) {
    if (!isI2vResolution(res) || RESOLUTION_BASES[res] !== base) throw new UnsupportedGoldenError(`${c.path}: bucket base ${res} = ${base} is not upstream's (${JSON.stringify(RESOLUTION_BASES)})`);
  }
}

/** An [H, W, 3] tensor of 0..255 values (stored I64 in the case) as an RGB image. */
function imageOf(c: GoldenCase, name: string) {
  const t = c.tensor(name);
  if (t.shape.length !== 3 || t.shape[2] !== 3) throw new UnsupportedGoldenError(`${c.path}: ${name} has shape [${t.shape.join(', ')}], expected [H, W, 3] RGB`);
  const data = Uint8Array.from(toFloat64(t));
  return makeFrames(t.shape[1], t.shape[0], 1, data);
}

/**
 * Call 1: one row per image size × resolution × sp degree: the sizes are input.image_sizes'
 * (height, width) rows (input.image's own size among them, last), the resolutions and degrees
 * as the `returns` text lists them.
 */
function bucketTable(c: GoldenCase, call: GoldenCall): [string, HostTensor] {
  const text = call.returns ?? '';
  const name = returnedOutputs(call).names[0];
  const resolutions = /resolution \(([^)]*)\)/.exec(text)?.[1].split(',').map((r) => resolutionOf(c, r));
  const degrees = /sp_degree \[([^\]]*)\]/.exec(text)?.[1].split(',').map(Number);
  if (!name || !resolutions || !degrees || degrees.some((d) => !Number.isInteger(d))) {
    throw new UnsupportedGoldenError(`${c.path}: the bucket table "${text}" is not understood (expected its output name, "resolution (...)" and "sp_degree [...]")`);
  }
  const sizesTensor = c.tensor('input.image_sizes');
  const flat = toFloat64(sizesTensor);
  const sizes: (readonly [number, number])[] = [];
  for (let i = 0; i < flat.length; i += 2) sizes.push([flat[i], flat[i + 1]]);
  const columns = JSON.parse(c.metadata.bucket_columns ?? '["image_height","image_width","resolution","sp_degree","bucket_height","bucket_width"]') as string[];
  const rows: number[] = [];
  for (const [h, w] of sizes) {
    for (const res of resolutions) {
      for (const sp of degrees) {
        const [bh, bw] = i2vBucket(h, w, res, sp);
        const value: Record<string, number> = { image_height: h, image_width: w, resolution: Number(res.replace('p', '')), sp_degree: sp, bucket_height: bh, bucket_width: bw };
        for (const col of columns) {
          if (!(col in value)) throw new UnsupportedGoldenError(`${c.path}: bucket column ${col} is not one Kiln knows (${Object.keys(value).join(', ')})`);
          rows.push(value[col]);
        }
      }
    }
  }
  return [name, tensor(rows, [rows.length / columns.length, columns.length])];
}

const samplerAdapter: GoldenAdapter = {
  classNames: ['predict'],
  async run(c, ctx) {
    checkBases(c);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if (call.method === PREDICT && typeof call.image === 'string') {
        const res = resolutionOf(c, String(call.i2v_resolution));
        const sp = Number(call.sp_degree ?? 1);
        const name = returnedOutputs(call).names[0];
        if (!name) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output the pixel call returns from "${call.returns}"`);
        const { bucket, pixels } = prepareReferenceImage(imageOf(c, call.image), res, sp);
        out.set(name, pixels);
        ctx.log(`reference image → bucket ${bucket[0]}x${bucket[1]} at ${res}`);
      } else if (call.method === PREDICT) {
        const [name, table] = bucketTable(c, call);
        out.set(name, table);
        ctx.log(`${table.shape[0]} buckets`);
      } else if (call.function === 'hyvideo.utils.data_utils.generate_crop_size_list') {
        const patch = Number(call.args?.[1] ?? 32);
        for (const [res, base] of Object.entries(RESOLUTION_BASES)) {
          const list = generateCropSizeList(base, patch);
          out.set(`crop_size_list_${res}`, tensor(list.flat(), [list.length, 2]));
          out.set(`aspect_ratios_${res}`, tensor(bucketRatios(list), [list.length]));
        }
      } else {
        throw new UnsupportedGoldenError(`${c.path}: the call ${JSON.stringify(call.method ?? call.function)} is not supported (${PREDICT} and generate_crop_size_list)`);
      }
    }
    return out;
  },
};

export const I2V_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [samplerAdapter];
