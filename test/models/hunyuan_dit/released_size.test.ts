/**
 * The released I2V transformer at its real size — 720p (the 1248 × 704 bucket), 129 frames:
 * 113,256 image tokens and 359 text tokens — compiles for a GPU with NVIDIA's usual Vulkan
 * limits (4 GiB bindings, 48 KiB of workgroup memory, shader-f16) with f16 storage: no stored
 * tensor passes a binding, no index passes 32 bits, and the planned peak fits an H200. Nothing
 * runs (no GPU here); this guards the shapes a GPU run will meet.
 */
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { compile } from '../../../compiler/compile.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { ditProgram, RELEASED_I2V_DIT_CONFIG } from '../../../models/hunyuan_dit/transformer.ts';

const GPU_LIKE: Target = {
  ...DEFAULT_TARGET,
  limits: {
    ...DEFAULT_TARGET.limits, maxStorageBufferBindingSize: 2 ** 32 - 4, maxBufferSize: 2 ** 32 - 4, maxComputeWorkgroupStorageSize: 49_152,
    maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024,
  },
  features: { shaderF16: true, subgroups: true, timestampQuery: true },
  adapter: { ...DEFAULT_TARGET.adapter, vendor: 'nvidia', description: 'NVIDIA-like Vulkan limits', backend: 'vulkan' },
};

describe('the released transformer at 720p × 129 frames', () => {
  it('compiles for a GPU with 4 GiB bindings, f16 storage, with a planned peak that fits an H200', () => {
    const [frames, h, w] = [33, 88, 156];
    const tokens = frames * (h / 2) * (w / 2);
    const t = (name: string, shape: number[], dtype: 'f32' | 'i32' = 'f32') => ({ kind: 'tensor' as const, name, shape, dtype });
    const graph = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...RELEASED_I2V_DIT_CONFIG }).trace({
      fn: 'forward',
      args: [t('x', [1, 16, frames, h, w]), t('t_freq', [1, 256]), t('text_states', [1, 359, 4096]), t('text_mask', [1, 359], 'i32'),
        t('text_states_2', [1, 768]), t('freqs_cos', [tokens, 128]), t('freqs_sin', [tokens, 128]), t('guidance_freq', [1, 256]), t('tr_freq', [1, 256])],
    });
    const program = compile(graph, GPU_LIKE, { storage: 'f16' });
    expect(tokens).toBe(113_256);
    // 12.8 B parameters in f16, and activations on top: well under the H200's 139 GiB.
    expect(program.plan.weightBytes / 2 ** 30).toBeCloseTo(23.88, 1);
    expect(program.plan.peakBytes / 2 ** 30).toBeLessThan(40);
    // One fused attention per block: 20 double, 40 single, 2 in the token refiner.
    expect(program.kernels.filter((k) => k.kind === 'attention')).toHaveLength(20 + 40 + 2);
  }, 120_000);
});
