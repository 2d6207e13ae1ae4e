// VAE block goldens compiled as a discrete GPU compiles them (its heuristic tiles: staged
// matmuls, 256-thread reductions, GPU attention and conv tiles; isFallbackAdapter false) and run
// on this adapter. The other WebGPU goldens compile for this adapter, which on CI is lavapipe, a
// CPU; these run the GPU's kernels before a GPU is at hand. The device is the real one, seen
// through an object whose target says "GPU".
import { afterAll, describe, expect, it } from 'vitest';
import { runGoldenCase } from '../../models/golden/run.ts';
import { releaseDevice, type KilnDevice } from '../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../runtime/gpu-available.ts';
import { goldenPath } from './golden_cases.ts';

const device = await deviceOrUndefined();

function asGpu(d: KilnDevice): KilnDevice {
  return Object.create(d, { target: { value: { ...d.target, adapter: { ...d.target.adapter, isFallbackAdapter: false } } } }) as KilnDevice;
}

describe.skipIf(!device)(device ? 'VAE block goldens compiled for a discrete GPU, run here' : `VAE block goldens compiled for a discrete GPU — ${NO_ADAPTER}`, () => {
  afterAll(async () => {
    await releaseDevice();
  });
  const gpu = device && asGpu(device);
  for (const dtype of ['f32', 'f16'] as const) {
    const skip = dtype === 'f16' && !device?.target.features.shaderF16;
    const ctx = { backend: 'webgpu' as const, device: gpu, session: { backend: 'webgpu' as const, device: gpu, dtype, tuning: 'none' as const }, log: () => {} };
    for (const f of ['causal_conv3d_k3_s122.safetensors', 'resnet_shortcut_c8to12_g4.safetensors', 'midblock_c16_g4_T1.safetensors']) {
      it.skipIf(skip)(`${f} (${dtype})${skip ? ' — skipped: this adapter has no shader-f16' : ''}`, async () => {
        const r = await runGoldenCase(goldenPath(f), ctx);
        expect(r.pass, r.comparisons.map((c) => `${c.name}: rel L2 ${c.relL2}`).join('; ')).toBe(true);
      });
    }
  }
  it('the midblock\'s attention projections are staged matmuls there', async () => {
    const { compile } = await import('../../compiler/compile.ts');
    const { GraphBuilder } = await import('../../compiler/builder.ts');
    const b = new GraphBuilder();
    const x = b.input('x', [2, 30, 16], 'f32');
    const w = b.input('w', [16, 16], 'f32', 'weight');
    const p = compile(b.graph([{ name: 'y', node: b.matmul(x, b.expand(b.reshape(w, [1, 16, 16]), [2, 16, 16])) }]), gpu!.target);
    expect(p.kernels[0].wgsl).toMatch(/K staged in workgroup memory by \d+/);
  });
});
