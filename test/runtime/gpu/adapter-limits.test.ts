/**
 * DISCRETE_GPU_TARGET (compiler/target.ts) assumes 16 storage buffers per kernel: Dawn's own
 * ceiling, whatever the driver offers. Lavapipe offers a million, so the Kiln device's target
 * on lavapipe shows the ceiling of the Dawn Kiln ships; if a Dawn update moves it, this fails
 * and the target (and the released transformer's kernel count in README) should follow.
 */
import { describe, expect, it } from 'vitest';
import { DISCRETE_GPU_TARGET } from '../../../compiler/target.ts';
import { deviceOrUndefined } from '../gpu-available.ts';

const kiln = await deviceOrUndefined();
const lavapipe = kiln !== undefined && kiln.backend === 'vulkan' && /llvmpipe/i.test(`${kiln.target.adapter.device} ${kiln.target.adapter.description}`);

describe('storage buffers per kernel', () => {
  it.skipIf(!lavapipe)(`Dawn reports its ceiling of ${DISCRETE_GPU_TARGET.limits.maxStorageBuffersPerShaderStage} for lavapipe, which offers far more (skipped: no lavapipe adapter)`, () => {
    expect(kiln!.target.limits.maxStorageBuffersPerShaderStage).toBe(DISCRETE_GPU_TARGET.limits.maxStorageBuffersPerShaderStage);
  });
});
