/**
 * What the released I2V transformer asks of a GPU at upstream's size, without one: it is
 * compiled for DISCRETE_GPU_TARGET (a discrete NVIDIA GPU's usual Vulkan limits) and the kernel
 * count, the planned peak and the weights' share are printed. Nothing runs.
 *
 *   npx tsx bench/experiments/released_dit_compile.ts [--frames 129] [--height 704] [--width 1248] [--dtype f16] [--tensor-cores]
 *
 * Defaults: upstream's 720p landscape bucket (704 × 1248) and 129 frames; 359 text tokens.
 * `--tensor-cores` compiles as for a GPU reporting a 16x16x16 f16 -> f32 subgroup-matrix
 * configuration with subgroups of 32 (what an NVIDIA GPU's Vulkan driver offers) and counts the
 * kernels that run on it.
 */
import { parseArgs } from 'node:util';
import { bindModule } from '../../compiler/bind.ts';
import { compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import { DISCRETE_GPU_TARGET } from '../../compiler/target.ts';
import { ditForwardShapes, ditProgram, RELEASED_I2V_DIT_CONFIG } from '../../models/hunyuan_dit/transformer.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '129' }, height: { type: 'string', default: '704' }, width: { type: 'string', default: '1248' }, dtype: { type: 'string', default: 'f16' },
    'tensor-cores': { type: 'boolean', default: false },
  },
});
const [frames, height, width] = [Number(values.frames), Number(values.height), Number(values.width)];
const storage = values.dtype === 'f32' ? 'f32' : 'f16';
const latents = [1, 16, (frames - 1) / 4 + 1, height / 8, width / 8] as const;
const t0 = performance.now();
const graph = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...RELEASED_I2V_DIT_CONFIG })
  .trace({ fn: 'forward', args: ditForwardShapes(RELEASED_I2V_DIT_CONFIG, latents, 359) });
const subgroupMatrix: SubgroupMatrixSupport | undefined = values['tensor-cores']
  ? { configs: [{ M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }], subgroupMaxSize: 32 }
  : undefined;
const program = compile(graph, DISCRETE_GPU_TARGET, { storage, subgroupMatrix });
const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;
const kinds = new Map<string, number>();
const onTensorCores = new Map<string, number>();
for (const k of program.kernels) {
  kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  if (k.wgsl.includes('on subgroup matrices')) onTensorCores.set(k.kind, (onTensorCores.get(k.kind) ?? 0) + 1);
}
console.log(`released transformer, ${frames} frames at ${width}x${height} (latents [${latents.join(', ')}]), ${storage} storage, for ${DISCRETE_GPU_TARGET.adapter.description}:`);
console.log(`  ${program.kernels.length} kernels (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}), compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(`  planned peak ${gib(program.plan.peakBytes)}, of which weights ${gib(program.plan.weightBytes)}`);
if (subgroupMatrix) console.log(`  on tensor cores (16x16x16 f16 -> f32): ${[...kinds.keys()].map((k) => `${onTensorCores.get(k) ?? 0} of ${kinds.get(k)} ${k}`).join(', ')}`);
