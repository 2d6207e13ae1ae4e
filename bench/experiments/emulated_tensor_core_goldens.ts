/**
 * Golden cases with the convolutions and matmuls on subgroup matrices (tensor cores) where no
 * adapter has them: the device is this machine's, seen through an object that offers one
 * configuration whose operations the kernels emulate in plain WGSL
 * (compiler/codegen/subgroup_matrix_ops.ts). Slow (every invocation of a subgroup loads whole
 * fragments); for checking the tensor-core kernels' numbers, f16 ones especially, before a GPU
 * with subgroup matrices is at hand. The tests run the f32 block cases
 * (test/models/golden_subgroup_matrix.test.ts).
 *
 *   npx tsx bench/experiments/emulated_tensor_core_goldens.ts [--dtype f32|f16] CASE.safetensors...
 *
 * f32 uses an 8x8x8 f32 configuration, f16 (f16 storage) a 16x16x16 f16 one, both into f32.
 */
import { parseArgs } from 'node:util';
import type { SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import { formatReport, runGoldenCase } from '../../models/golden/run.ts';
import { acquireDevice, releaseDevice, type KilnDevice } from '../../runtime/device.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { dtype: { type: 'string', default: 'f32' } } });
const dtype = values.dtype;
if ((dtype !== 'f32' && dtype !== 'f16') || positionals.length === 0) {
  console.error('usage: npx tsx bench/experiments/emulated_tensor_core_goldens.ts [--dtype f32|f16] CASE.safetensors...');
  process.exit(2);
}
const support: SubgroupMatrixSupport = {
  configs: [dtype === 'f16'
    ? { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }
    : { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' }],
  subgroupMaxSize: 32,
  emulate: true,
};
const real = await acquireDevice();
const device = Object.create(real, { subgroupMatrix: { value: support } }) as KilnDevice;
let failed = 0;
try {
  for (const path of positionals) {
    const r = await runGoldenCase(path, { backend: 'webgpu', device, session: { backend: 'webgpu', device, dtype, tuning: 'none' }, log: () => {} });
    console.log(formatReport(r));
    if (!r.pass) failed++;
  }
} finally {
  await releaseDevice();
}
process.exit(failed ? 1 : 0);
