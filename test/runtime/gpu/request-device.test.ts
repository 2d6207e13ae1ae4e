/**
 * Subgroup matrices (tensor cores) reach a Kiln device only through Dawn's instance toggles
 * (dawn.ts). Dawn's null adapter offers them on every machine, so the real Dawn code is
 * exercised here; an NVIDIA GPU's adapter goes through the same path.
 */
import { describe, expect, it } from 'vitest';
import { create } from 'webgpu';
import { adapterOptions, dawnInstance } from '../../../runtime/gpu/dawn.ts';
import { requestKilnDevice } from '../../../runtime/gpu/request-device.ts';

const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

describe('requestKilnDevice', () => {
  it("is granted subgroup matrices where the adapter has them (Kiln's instance toggles)", async () => {
    const adapter = await dawnInstance('null').requestAdapter(adapterOptions('null'));
    expect(adapter!.features.has(SUBGROUP_MATRIX)).toBe(true);
    const device = await requestKilnDevice(adapter!, 'test');
    expect(device.features.has(SUBGROUP_MATRIX)).toBe(true);
    expect(device.features.has('shader-f16')).toBe(true);
    device.destroy();
  });

  it('without those toggles the same adapter does not even list them', async () => {
    const adapter = await untoggled.requestAdapter();
    expect(adapter!.features.has('shader-f16')).toBe(true);
    expect(adapter!.features.has(SUBGROUP_MATRIX)).toBe(false);
  });
});

// Held for the whole file: a dropped instance must not be finalized while Dawn polls it (dawn.ts).
const untoggled = create(['backend=null']);
