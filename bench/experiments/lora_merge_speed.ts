/**
 * How fast a LoRA pair merges into a transformer weight (models/hunyuan_dit/lora.ts): one
 * out × in weight at rank r, on the host (the interpreter's path) and by the merge program on
 * the GPU device (a GPU session's path; the figure includes the upload and the readback). Each
 * timed after one warm-up merge of the same shape.
 *
 *   npx tsx bench/experiments/lora_merge_speed.ts [--out 3072] [--in 3072] [--rank 32]
 */
import { parseArgs } from 'node:util';
import { withLora } from '../../models/hunyuan_dit/lora.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import { weightsFromMap, type SessionWeights } from '../../runtime/model.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: '3072' }, in: { type: 'string', default: '3072' }, rank: { type: 'string', default: '32' } } });
const [o, i, r] = [Number(values.out), Number(values.in), Number(values.rank)];
const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, (_, k) => Math.sin(k)) });
const keys = ['double_blocks.0.img_attn_proj', 'double_blocks.0.txt_attn_proj'];
const base = weightsFromMap(new Map(keys.map((k) => [`${k}.weight`, t([o, i])])));
const prefixed = (k: string) => `Hunyuan_video_I2V_lora_${k.replaceAll('.', '_')}`;
const lora = weightsFromMap(new Map(keys.flatMap((k) => [[`${prefixed(k)}.lora_up.weight`, t([o, r])], [`${prefixed(k)}.lora_down.weight`, t([r, i])]])));
const device = await acquireDevice();
const { weights } = withLora(base, lora, 1, { session: { backend: 'webgpu', device } });

async function timed(label: string, read: (w: SessionWeights, key: string) => unknown): Promise<void> {
  await read(weights, `${keys[0]}.weight`); // warm-up: compiles the merge program for this shape
  const t0 = performance.now();
  await read(weights, `${keys[1]}.weight`);
  const ms = performance.now() - t0;
  console.log(`${label}: merged a ${o} x ${i} weight at rank ${r} in ${ms.toFixed(0)} ms: ${((2 * o * i * r) / ms / 1e6).toFixed(2)} GFLOP/s`);
}
await timed('host', (w, k) => w.read(k));
await timed(`device (${device.describe()})`, (w, k) => w.readForDevice!(k));
await releaseDevice();
