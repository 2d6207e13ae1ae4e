/**
 * Why the tiny autoencoder's f16 'forward' error moves when only the order of f32 sums
 * changes (bench/ANALYSIS.md, "f16 storage"). forward(x) = decode(encode(x).mean): with f16
 * storage the encoder's mean arrives with ~1e-3 relative error, and the decoder amplifies an
 * input error by a factor that depends on its pattern, not only its size. This script measures
 * that factor with everything in f32: it perturbs the f32 mean by random noise of the f16 mean's
 * relative size, decodes, and prints the spread of 'forward' errors over several draws, next to
 * the f16 program's own.
 *
 *   npx tsx bench/experiments/f16_forward_sensitivity.ts [--draws N] [CASE.safetensors]
 *
 * CASE defaults to test/golden/vae_tiny_untiled.safetensors. Needs a WebGPU adapter with shader-f16.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GoldenCase } from '../../models/golden/case.ts';
import { compareOutput } from '../../models/golden/compare.ts';
import { HunyuanVae, vaeConfigFrom } from '../../models/hunyuan_vae/autoencoder.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import type { StorageMode } from '../../compiler/passes/storage.ts';
import { fromFloat64, toFloat64, type HostTensor } from '../../runtime/tensor.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { draws: { type: 'string', default: '8' } } });
const draws = Number(values.draws);
const path = positionals[0] ?? resolve(import.meta.dirname, '../../test/golden/vae_tiny_untiled.safetensors');

const c = new GoldenCase(path);
const device = await acquireDevice();
if (!device.target.features.shaderF16) throw new Error('this adapter has no shader-f16');
const x = c.tensor('input.x');
const relL2 = (got: HostTensor, name: string): number => compareOutput(name, got, c.reference(name), { atol: Infinity, rel_l2: Infinity }).relL2;
const vae = (dtype: StorageMode) => new HunyuanVae(vaeConfigFrom(c.constructorConfig), c.weights(), { backend: 'webgpu', device, dtype, tuning: 'none' });

// The f16 program: its mean's error, and its forward's.
const half = vae('f16');
const halfMean = (await half.encode(x)).mean;
const meanErr = relL2(halfMean, 'enc_mean');
const halfForward = relL2(await half.decode(halfMean), 'forward');

// f32 throughout, the mean perturbed by Gaussian noise of the same relative L2 size.
const full = vae('f32');
const mean = toFloat64((await full.encode(x)).mean);
const rms = Math.sqrt(mean.reduce((s, v) => s + v * v, 0) / mean.length);
let state = 0x9e3779b9;
const uniform01 = (): number => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return (state + 0.5) / 2 ** 32; };
const normal = (): number => Math.sqrt(-2 * Math.log(uniform01())) * Math.cos(2 * Math.PI * uniform01());
const errs: number[] = [];
for (let d = 0; d < draws; d++) {
  const perturbed = fromFloat64(mean.map((v) => v + meanErr * rms * normal()), c.reference('enc_mean').shape);
  errs.push(relL2(await full.decode(perturbed), 'forward'));
}
errs.sort((a, b) => a - b);
await releaseDevice();
c.close();

const e = (v: number): string => v.toExponential(2);
console.log(`case ${c.caseName}, adapter ${device.target.adapter.description || device.target.adapter.vendor}`);
console.log(`f16 storage:     enc_mean rel L2 ${e(meanErr)}, forward rel L2 ${e(halfForward)}`);
console.log(`f32, mean + ${e(meanErr)} relative noise (${draws} draws): forward rel L2 min ${e(errs[0])}, median ${e(errs[Math.floor(draws / 2)])}, max ${e(errs[draws - 1])}`);
console.log(`decoder amplification of the mean's error: ${(errs[0] / meanErr).toFixed(2)}x to ${(errs[draws - 1] / meanErr).toFixed(2)}x`);
