/**
 * Opening a device on an adapter with what Kiln asks for: every Kiln limit at the adapter's
 * value and the optional features it offers (adapter-info.ts): shader-f16, subgroups,
 * timestamp queries and subgroup matrices. The GPU device (device.ts) and the shader checker
 * (shader-check.ts) open theirs here.
 */
import { requiredFeaturesFor, requiredLimitsFor } from './adapter-info.ts';

export function requestKilnDevice(adapter: GPUAdapter, label = 'kiln'): Promise<GPUDevice> {
  return adapter.requestDevice({ label, requiredLimits: requiredLimitsFor(adapter), requiredFeatures: requiredFeaturesFor(adapter) });
}
