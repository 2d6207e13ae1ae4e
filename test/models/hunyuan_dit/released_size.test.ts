/**
 * The released I2V transformer at its real size — 720p (the 1248 × 704 bucket), 129 frames:
 * 113,256 image tokens and 359 text tokens — compiles for a GPU with NVIDIA's usual Vulkan
 * limits (4 GiB bindings, 48 KiB of workgroup memory, 16 bindings per kernel, shader-f16) with f16 storage: no stored
 * tensor passes a binding, no index passes 32 bits, and the planned peak fits an H200. Nothing
 * runs (no GPU here); this guards the shapes a GPU run will meet.
 */
import { describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { compile } from '../../../compiler/compile.ts';
import { DISCRETE_GPU_TARGET } from '../../../compiler/target.ts';
import { ditForwardShapes, ditProgram, RELEASED_I2V_DIT_CONFIG } from '../../../models/hunyuan_dit/transformer.ts';

describe('the released transformer at 720p × 129 frames', () => {
  it('compiles for a GPU with 4 GiB bindings, f16 storage, with a planned peak that fits an H200', () => {
    const graph = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...RELEASED_I2V_DIT_CONFIG })
      .trace({ fn: 'forward', args: ditForwardShapes(RELEASED_I2V_DIT_CONFIG, [1, 16, 33, 88, 156], 359) });
    const program = compile(graph, DISCRETE_GPU_TARGET, { storage: 'f16' });
    expect(graph.inputs.find((n) => n.kind === 'input' && n.name === 'freqs_cos')?.shape).toEqual([113_256, 128]);
    // 12.8 B parameters in f16, and activations on top: well under the H200's 139 GiB.
    expect(program.plan.weightBytes / 2 ** 30).toBeCloseTo(23.88, 1);
    expect(program.plan.peakBytes / 2 ** 30).toBeLessThan(40);
    // One fused attention per block: 20 double, 40 single, 2 in the token refiner.
    expect(program.kernels.filter((k) => k.kind === 'attention')).toHaveLength(20 + 40 + 2);
    // With a GPU's 16 bindings per kernel every rotary, norm and modulation fits its consumer's
    // kernel; only unpatchify's copy stands alone.
    expect(program.kernels.filter((k) => k.kind === 'elementwise')).toHaveLength(1);
  }, 120_000);
});
