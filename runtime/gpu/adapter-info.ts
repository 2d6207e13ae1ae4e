/**
 * Reading what an adapter offers and turning it into what Kiln asks for: the limits that bound
 * codegen and planning (requested at the adapter's real values, not WebGPU's defaults), the
 * optional features Kiln uses, and the `Target` the compiler sees.
 */
import type { Target, TargetAdapter, TargetFeatures, TargetLimits } from '../../compiler/target.ts';
import type { Backend } from './dawn.ts';

/** One subgroup-matrix shape the adapter multiplies (the compiler's SubgroupMatrixConfig). */
export interface SubgroupMatrixConfig {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly componentType: 'f32' | 'f16' | 'u32' | 'i32' | 'u8' | 'i8';
  readonly resultComponentType: 'f32' | 'f16' | 'u32' | 'i32' | 'u8' | 'i8';
}

export interface SubgroupMatrixSupport {
  readonly configs: readonly SubgroupMatrixConfig[];
  readonly subgroupMaxSize: number;
}

/** The limits in `TargetLimits`, in the order reports list them. */
export const LIMIT_NAMES: readonly (keyof TargetLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'minStorageBufferOffsetAlignment',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
];

/** Optional features Kiln enables when the adapter has them. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as const;

/**
 * The device's subgroup-matrix configurations (Dawn's chromium-experimental-subgroup-matrix,
 * read from the adapter's info), or undefined when the device was not granted the feature or
 * the adapter lists none — lavapipe lists none.
 */
export function subgroupMatrixSupport(adapter: GPUAdapter, device: GPUDevice): SubgroupMatrixSupport | undefined {
  if (!device.features.has('chromium-experimental-subgroup-matrix')) return undefined;
  const info = adapter.info as unknown as { subgroupMatrixConfigs?: readonly Record<string, unknown>[]; subgroupMaxSize?: number };
  const configs = (info.subgroupMatrixConfigs ?? []).map((c) => ({
    M: Number(c.M), N: Number(c.N), K: Number(c.K),
    componentType: String(c.componentType) as SubgroupMatrixConfig['componentType'],
    resultComponentType: String(c.resultComponentType) as SubgroupMatrixConfig['resultComponentType'],
  }));
  if (!configs.length || !info.subgroupMaxSize) return undefined;
  return { configs, subgroupMaxSize: info.subgroupMaxSize };
}

export function readLimits(limits: GPUSupportedLimits): TargetLimits {
  const out: Record<string, number> = {};
  for (const name of LIMIT_NAMES) out[name] = Number((limits as unknown as Record<string, number>)[name]);
  return out as unknown as TargetLimits;
}

/** Request every Kiln limit at the adapter's value (a "better" value for alignment is lower). */
export function requiredLimitsFor(adapter: GPUAdapter): Record<string, number> {
  return { ...readLimits(adapter.limits) };
}

export function requiredFeaturesFor(adapter: GPUAdapter): GPUFeatureName[] {
  return WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
}

export function readFeatures(features: GPUSupportedFeatures): TargetFeatures {
  return {
    shaderF16: features.has('shader-f16'),
    subgroups: features.has('subgroups'),
    timestampQuery: features.has('timestamp-query'),
  };
}

/** Adapter identity as the compiler and reports see it; empty strings stay empty. */
export function readAdapter(adapter: GPUAdapter, backend: Backend): TargetAdapter {
  const info = adapter.info;
  // `isFallbackAdapter` moved from GPUAdapter to GPUAdapterInfo in the spec; read either.
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter
    ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    backend,
    isFallbackAdapter: Boolean(fallback),
  };
}

/** The Target of a created device: limits and features it was granted, not merely offered. */
export function targetOf(adapter: GPUAdapter, device: GPUDevice, backend: Backend): Target {
  return { limits: readLimits(device.limits), features: readFeatures(device.features), adapter: readAdapter(adapter, backend) };
}

/** `vendor / architecture / device / description`, with "(empty)" for blank fields so they still show. */
export function describeAdapter(a: TargetAdapter): string {
  const show = (s: string): string => (s === '' ? '(empty)' : s);
  return `${show(a.vendor)} / ${show(a.architecture)} / ${show(a.device)} / ${show(a.description)}`;
}
