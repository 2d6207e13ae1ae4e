/**
 * Planning and auto-tiling without a GPU: programs are compiled for made-up device limits (a
 * small binding limit makes untiled programs fail to compile, a small budget makes them too
 * big), and the plan must switch to tiling, shrink tiles only as needed, say why, and refuse
 * clearly when nothing fits. Expected tiles come from the tile loops (tiling.ts), which the
 * golden tiled cases check against upstream.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { HunyuanVae } from '../../../models/hunyuan_vae/autoencoder.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { defaultMemoryBudget, momentsShape, planVaeRun, tilingKind, VaePlanError, type PlanOptions } from '../../../models/hunyuan_vae/run_plan.ts';
import { decodeTileShapes, encodeTileShapes } from '../../../models/hunyuan_vae/tiling.ts';
import type { KilnDevice } from '../../../runtime/device.ts';
import { weightsFromMap } from '../../../runtime/model.ts';

function targetWith(bindingBytes: number, fallback = false): Target {
  return {
    ...DEFAULT_TARGET,
    limits: { ...DEFAULT_TARGET.limits, maxStorageBufferBindingSize: bindingBytes, maxStorageBuffersPerShaderStage: 16 },
    adapter: { ...DEFAULT_TARGET.adapter, isFallbackAdapter: fallback },
  };
}

/** A session that compiles for `target` (planning only: nothing runs, so no GPU is needed). */
function plannedVae(target: Target): HunyuanVae {
  const device = { target } as unknown as KilnDevice;
  return new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights()), { backend: 'webgpu', device });
}

const opts = (o: Partial<PlanOptions>): PlanOptions => ({ mode: 'auto', ...o });
const MB = 2 ** 20;

describe('planVaeRun', () => {
  it('keeps the defaults when they fit: encode untiled, decode with tiling on', () => {
    const vae = plannedVae(targetWith(128 * MB));
    const enc = planVaeRun(vae, 'encode', [1, 3, 5, 32, 32], opts({ budgetBytes: 1024 * MB }));
    expect(enc.flags).toEqual({ spatial: false, temporal: false });
    expect(enc.autoTiling).toBeUndefined();
    expect(enc.programs.map((p) => [p.fn, p.shape, p.runs])).toEqual([['moments', [1, 3, 5, 32, 32], 1], ['posterior', [1, 8, 2, 4, 4], 1]]);
    for (const p of enc.programs) expect(p.peakBytes).toBeGreaterThan(0);

    const dec = planVaeRun(vae, 'decode', [1, 4, 2, 12, 12], opts({ budgetBytes: 1024 * MB }));
    expect(dec.flags).toEqual({ spatial: true, temporal: true });
    expect(dec.path).toBe('spatial');
    expect(dec.tileShapes).toEqual(decodeTileShapes([1, 4, 2, 12, 12], dec.flags, vae.tiling));
    // Tiles at latent rows/columns 0 and 6: 8 and 6 wide.
    expect(dec.programs.map((p) => [p.shape.slice(3), p.runs])).toEqual([[[8, 8], 1], [[8, 6], 1], [[6, 8], 1], [[6, 6], 1]]);
    expect(vae.flags).toEqual(dec.flags);
  });

  it('switches to tiling when the untiled program does not compile for the device, and says why', () => {
    // conv_in's output alone is 8 × 5 × 128 × 128 × 4 B = 2.5 MiB, over a 2 MiB binding limit.
    const vae = plannedVae(targetWith(2 * MB));
    const shape = [1, 3, 5, 128, 128];
    const plan = planVaeRun(vae, 'encode', shape, opts({ budgetBytes: 1024 * MB }));
    expect(plan.flags).toEqual({ spatial: true, temporal: true });
    expect(plan.path).toBe('spatial');
    expect(plan.tiling.sampleSize).toBe(64);
    expect(plan.tileShapes).toEqual(encodeTileShapes(shape, plan.flags, plan.tiling));
    expect(plan.tileShapes).toHaveLength(9);
    expect(plan.autoTiling).toMatch(/^auto-tiling: untiled: moments \[1, 3, 5, 128, 128\] does not compile for this device \(a \[1, 8, 5, 128, 128\] tensor \(2\.5 MiB\) is larger than the device can bind\); using spatial tiling with 64 px × 16-frame tiles \(9 tiles\)$/);
    expect(vae.flags).toEqual(plan.flags);
  });

  it('shrinks the tiles when the input fits in one tile but not in the budget', () => {
    const vae = plannedVae(targetWith(128 * MB));
    const shape = [1, 3, 5, 64, 64];
    const untiled = planVaeRun(vae, 'encode', shape, opts({ mode: 'off', budgetBytes: 1024 * MB }));
    const peak = untiled.programs[0].peakBytes!;
    const plan = planVaeRun(vae, 'encode', shape, opts({ budgetBytes: peak - 1 }));
    expect(plan.tiling.sampleSize).toBe(32);
    expect(plan.path).toBe('spatial');
    expect(plan.autoTiling).toContain(`untiled: moments [1, 3, 5, 64, 64] plans a peak of ${(peak / MB).toFixed(1)} MB, over the budget of ${((peak - 1) / MB).toFixed(1)} MB`);
    expect(plan.autoTiling).toContain('using spatial tiling with 32 px × 16-frame tiles');
    for (const p of plan.programs) expect(p.peakBytes!).toBeLessThanOrEqual(peak - 1);
    // The posterior runs once on the assembled moments.
    expect(plan.programs.at(-1)).toMatchObject({ fn: 'posterior', shape: momentsShape(shape, vae), runs: 1 });
  });

  it('never shrinks a tile size the user fixed; refuses with every candidate when nothing fits', () => {
    const vae = plannedVae(targetWith(128 * MB));
    let err: unknown;
    try {
      planVaeRun(vae, 'encode', [1, 3, 5, 64, 64], opts({ budgetBytes: 1024, fixedTileSize: true }));
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(VaePlanError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^cannot encode an input of shape \[1, 3, 5, 64, 64\] on this device: no tiling fits\./);
    expect(msg).toMatch(/ {2}- untiled: moments \[1, 3, 5, 64, 64\] plans a peak of .* over the budget of 0\.0 MB/);
    expect(msg).not.toContain('32 px');
    expect(msg).toMatch(/raise --memory-budget/);
  });

  it('with --no-tile, reports the compile error itself and how to let Kiln tile', () => {
    const vae = plannedVae(targetWith(2 * MB));
    let err: unknown;
    try {
      planVaeRun(vae, 'encode', [1, 3, 5, 128, 128], opts({ mode: 'off', budgetBytes: 1024 * MB }));
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(VaePlanError);
    expect((err as Error).message).toMatch(/needs a tensor of shape \[1, 8, 5, 128, 128\][\s\S]*You passed --no-tile: drop it to let Kiln tile automatically/);
  });

  it('plans without compiling on the interp backend', () => {
    const vae = new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights()), { backend: 'interp' });
    const plan = planVaeRun(vae, 'decode', [1, 4, 7, 4, 4], opts({ mode: 'on' }));
    expect(plan.path).toBe('temporal');
    expect(plan.tileShapes).toEqual([[1, 4, 5, 4, 4], [1, 4, 4, 4, 4], [1, 4, 1, 4, 4]]);
    expect(plan.programs.map((p) => p.peakBytes)).toEqual([undefined, undefined, undefined]);
    expect(tilingKind('decode', [1, 4, 7, 4, 4], plan)).toBe('temporal');
    const both = planVaeRun(vae, 'decode', [1, 4, 7, 12, 12], opts({ mode: 'on' }));
    expect(tilingKind('decode', [1, 4, 7, 12, 12], both)).toBe('temporal and spatial');
    // Three temporal windows, each split into 2 × 2 spatial tiles.
    expect(both.tileShapes).toHaveLength(12);
  });

  it('budgets half the host memory on a CPU adapter and the largest buffer on a GPU', () => {
    expect(defaultMemoryBudget(targetWith(MB, false))).toBe(DEFAULT_TARGET.limits.maxBufferSize);
    expect(defaultMemoryBudget(targetWith(MB, true))).toBeGreaterThan(0);
  });
});
