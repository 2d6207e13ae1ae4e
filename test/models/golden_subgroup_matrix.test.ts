// VAE block goldens with the convolutions on subgroup matrices (tensor cores), as a GPU that
// reports configurations gets them. No adapter here has subgroup matrices, so the device is the
// real one seen through an object that offers configurations whose operations the kernels
// emulate in plain WGSL (codegen/subgroup_matrix_ops.ts): the tensor-core kernels' staging,
// fragment layouts and epilogues meet the goldens' f32 tolerances before a GPU is at hand.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import { runGoldenCase } from '../../models/golden/run.ts';
import { releaseDevice, type KilnDevice } from '../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../runtime/gpu-available.ts';
import { tempDirs } from '../runtime/weights/helpers.ts';
import { goldenPath } from './golden_cases.ts';

const device = await deviceOrUndefined();
const EMULATED_F32: SubgroupMatrixSupport = { configs: [{ M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' }], subgroupMaxSize: 32, emulate: true };

describe.skipIf(!device)(device ? 'VAE block goldens with convolutions on (emulated) subgroup matrices' : `VAE block goldens on subgroup matrices — ${NO_ADAPTER}`, () => {
  const dirs = tempDirs();
  afterAll(async () => {
    dirs.cleanup();
    await releaseDevice();
  });
  const withTensorCores = device && (Object.create(device, { subgroupMatrix: { value: EMULATED_F32 } }) as KilnDevice);
  for (const f of ['causal_conv3d_k3_s1.safetensors', 'resnet_shortcut_c8to12_g4.safetensors', 'upsample_t2s2_T3.safetensors']) {
    it(f, async () => {
      const dump = dirs.make();
      const r = await runGoldenCase(goldenPath(f), {
        backend: 'webgpu', device: withTensorCores,
        session: { backend: 'webgpu', device: withTensorCores, tuning: 'none', dumpWgsl: dump },
        log: () => {},
      });
      expect(r.pass, r.comparisons.map((c) => `${c.name}: rel L2 ${c.relL2}`).join('; ')).toBe(true);
      const kernels = readdirSync(dump, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
      expect(kernels.filter((k) => k.includes('implicit GEMM on subgroup matrices') && k.includes('emulated in plain WGSL')).length).toBeGreaterThan(0);
    });
  }
});
