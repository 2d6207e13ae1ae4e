/**
 * Every kernel of the VAE as a discrete GPU gets it, compiled by Dawn. The programs are
 * compiled for the shader checker's GPU target (GPU heuristics and code, shader-f16 and
 * subgroups, WebGPU's minimum limits) in f32 and with f16 storage, and each kernel goes through
 * Dawn's WGSL compiler and pipeline validation on its null backend, which runs nothing but
 * validates as a GPU's device would. The VAE's numbers on a GPU are the goldens' business; this
 * catches a kernel a GPU would refuse before one is at hand.
 */
import { describe, expect, it } from 'vitest';
import { HunyuanVae } from '../../../models/hunyuan_vae/autoencoder.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import type { KilnDevice } from '../../../runtime/device.ts';
import { shaderChecker } from '../../../runtime/gpu/shader-check.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import type { HostTensor } from '../../../runtime/tensor.ts';

const zeros = (shape: number[]): HostTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe("the tiny VAE's kernels for a GPU, compiled by Dawn (null backend)", async () => {
  const checker = await shaderChecker();
  const weights = weightsFromMap(builtinVaeWeights());
  // With f16 storage, also as a GPU with tensor cores gets them (f16 16x16x16 into f32).
  const tensorCores = checker.supportFor([{ M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }]);
  for (const [dtype, subgroupMatrix] of [['f32', undefined], ['f16', undefined], ['f16', tensorCores]] as const) {
    it(`${dtype} storage${subgroupMatrix ? ', on subgroup matrices' : ''}: encoder, posterior and decoder, every kernel without a diagnostic`, async () => {
      // Compiling needs only the device's target: nothing runs.
      const device = { target: checker.gpuTarget, subgroupMatrix } as unknown as KilnDevice;
      const vae = new HunyuanVae(TINY_VAE_CONFIG, weights, { backend: 'webgpu', device, dtype, tuning: 'none' });
      const programs = [
        vae.session.prepare('moments', [zeros([1, 3, 5, 16, 16])]).program!,
        vae.session.prepare('posterior', [zeros([1, 2 * TINY_VAE_CONFIG.latent_channels, 2, 2, 2])]).program!,
        vae.session.prepare('decode', [zeros([1, TINY_VAE_CONFIG.latent_channels, 2, 4, 4])]).program!,
      ];
      const kernels = programs.flatMap((p) => p.kernels);
      expect(new Set(kernels.map((k) => k.kind))).toEqual(new Set(['contraction', 'reduction', 'elementwise', 'attention']));
      if (dtype === 'f16') expect(kernels.some((k) => k.wgsl.includes('enable f16;'))).toBe(true);
      expect(kernels.some((k) => k.wgsl.includes('subgroupAdd'))).toBe(true);
      // Every stride-1 convolution goes to the tensor cores; the strided downsamplers do not.
      if (subgroupMatrix) expect(kernels.filter((k) => k.wgsl.includes('implicit GEMM on subgroup matrices')).length).toBeGreaterThan(10);
      for (const k of kernels) expect(await checker.check(k.wgsl), `${k.name}\n${k.wgsl}`).toEqual([]);
    });
  }
});
