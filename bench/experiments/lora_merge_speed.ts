/**
 * How fast the host merges a LoRA pair into a transformer weight (models/hunyuan_dit/lora.ts):
 * one out × in weight at rank r, timed once.
 *
 *   npx tsx bench/experiments/lora_merge_speed.ts [--out 3072] [--in 3072] [--rank 32]
 */
import { parseArgs } from 'node:util';
import { withLora } from '../../models/hunyuan_dit/lora.ts';
import { weightsFromMap } from '../../runtime/model.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: '3072' }, in: { type: 'string', default: '3072' }, rank: { type: 'string', default: '32' } } });
const [o, i, r] = [Number(values.out), Number(values.in), Number(values.rank)];
const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, (_, k) => Math.sin(k)) });
const key = 'double_blocks.0.img_attn_proj';
const base = weightsFromMap(new Map([[`${key}.weight`, t([o, i])]]));
const lora = weightsFromMap(new Map([[`Hunyuan_video_I2V_lora_double_blocks_0_img_attn_proj.lora_up.weight`, t([o, r])], [`Hunyuan_video_I2V_lora_double_blocks_0_img_attn_proj.lora_down.weight`, t([r, i])]]));
const { weights } = withLora(base, lora, 1);
const t0 = performance.now();
weights.read(`${key}.weight`);
const ms = performance.now() - t0;
console.log(`merged a ${o} x ${i} weight at rank ${r} in ${ms.toFixed(0)} ms: ${((2 * o * i * r) / ms / 1e6).toFixed(2)} GFLOP/s`);
