// The fusion is real, not claimed: the Kiln VAE blocks and the transformer compile to few kernels, and none of them
// does elementwise work alone (GroupNorm's normalise+SiLU lands in the next convolution's loads,
// bias and residual in its stores). Compiled for a target with lavapipe's limits (16 storage
// buffers per kernel); no device is needed to compile.
import { describe, expect, it } from 'vitest';
import { bindModule, tensorArg } from '../../compiler/bind.ts';
import { compile } from '../../compiler/compile.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { vaeProgram } from '../../models/hunyuan_vae/autoencoder.ts';
import { TINY_DIT_CONFIG } from '../../models/hunyuan_dit/random_weights.ts';
import { ditForwardShapes, ditProgram } from '../../models/hunyuan_dit/transformer.ts';

const TARGET: Target = {
  ...DEFAULT_TARGET,
  limits: { ...DEFAULT_TARGET.limits, maxStorageBuffersPerShaderStage: 16, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024, maxComputeWorkgroupStorageSize: 32768, minStorageBufferOffsetAlignment: 16 },
  adapter: { ...DEFAULT_TARGET.adapter, vendor: 'mesa', architecture: 'software', isFallbackAdapter: true },
};

function kernels(module: string, config: Record<string, unknown>, fn: string, shape: number[], fuse: boolean) {
  const g = bindModule(vaeProgram(), module, config).trace({ fn, args: [tensorArg('x', shape)] });
  return compile(g, TARGET, { fuse }).kernels;
}

describe('fusion of the VAE blocks', () => {
  it('ResnetBlockCausal3D: 4 kernels (2 GroupNorm statistics, 2 convolutions), none elementwise', () => {
    const cfg = { in_channels: 8, out_channels: 8, groups: 2 };
    const fused = kernels('ResnetBlockCausal3D', cfg, 'forward', [1, 8, 3, 6, 5], true);
    const unfused = kernels('ResnetBlockCausal3D', cfg, 'forward', [1, 8, 3, 6, 5], false);
    expect(fused.map((k) => k.kind)).toEqual(['reduction', 'contraction', 'reduction', 'contraction']);
    expect(unfused.length).toBeGreaterThan(40);
  });

  it('ResnetBlockCausal3D with a shortcut: one more convolution, still none elementwise', () => {
    const fused = kernels('ResnetBlockCausal3D', { in_channels: 8, out_channels: 12, groups: 4 }, 'forward', [1, 8, 3, 6, 5], true);
    expect(fused.filter((k) => k.kind === 'contraction')).toHaveLength(3);
    expect(fused.filter((k) => k.kind === 'elementwise')).toEqual([]);
  });

  it('the mid block: its attention is one kernel and the L×L mask is never stored', () => {
    const ks = kernels('UNetMidBlockCausal3D', { in_channels: 16, resnet_groups: 4, attention_head_dim: 16 }, 'forward', [1, 16, 3, 4, 5], true);
    expect(ks.filter((k) => k.kind === 'attention')).toHaveLength(1);
    expect(ks.filter((k) => k.kind === 'elementwise')).toEqual([]);
    const L = 3 * 4 * 5;
    const g = bindModule(vaeProgram(), 'UNetMidBlockCausal3D', { in_channels: 16, resnet_groups: 4, attention_head_dim: 16 }).trace({ fn: 'forward', args: [tensorArg('x', [1, 16, 3, 4, 5])] });
    const p = compile(g, TARGET);
    expect(p.tensors.some((t) => t.shape.length >= 2 && t.shape.at(-1) === L && t.shape.at(-2) === L)).toBe(false);
  });

  it('a whole decoder launches no standalone elementwise kernel', () => {
    const cfg = { block_out_channels: [8, 16, 16, 16], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4 };
    const g = bindModule(vaeProgram(), 'AutoencoderKLCausal3D', cfg).trace({ fn: 'decode', args: [tensorArg('z', [1, 4, 3, 4, 4])] });
    const ks = compile(g, TARGET).kernels;
    expect(ks.filter((k) => k.kind === 'elementwise')).toEqual([]);
    expect(ks.filter((k) => k.kind === 'attention')).toHaveLength(1);
  });
});

describe('fusion of the transformer', () => {
  it("launches one standalone elementwise kernel, unpatchify's copy: modulation, gates and residuals ride in the contractions' loads and stores", () => {
    const cfg = { ...TINY_DIT_CONFIG, mm_double_blocks_depth: 3, mm_single_blocks_depth: 3 };
    const g = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...cfg }).trace({ fn: 'forward', args: ditForwardShapes(cfg, [1, 4, 3, 8, 8], 12) });
    const ks = compile(g, TARGET).kernels;
    const standalone = ks.filter((k) => k.kind === 'elementwise');
    expect(standalone).toHaveLength(1);
    expect(standalone[0].sourceOps).toEqual([expect.stringMatching(/^rearrange @ unpatchify/)]);
    // One fused attention per block: 3 double, 3 single, 2 in the token refiner.
    expect(ks.filter((k) => k.kind === 'attention')).toHaveLength(8);
  });
});
