/**
 * Target: what the compiler may assume about the device it generates kernels for. The runtime
 * reads it from the adapter (runtime/device.ts); the compiler never talks to a GPU itself.
 * Every limit here bounds a codegen or planning decision (binding sizes, offsets, workgroup
 * shapes, workgroup memory, number of bindings per kernel).
 */
export interface TargetLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly minStorageBufferOffsetAlignment: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupSizeY: number;
  readonly maxComputeWorkgroupSizeZ: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

export interface TargetFeatures {
  readonly shaderF16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
}

export interface TargetAdapter {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** 'vulkan' | 'opengles' | ... as Dawn reports it. */
  readonly backend: string;
  /** True for CPU implementations such as Mesa's lavapipe. */
  readonly isFallbackAdapter: boolean;
}

export interface Target {
  readonly limits: TargetLimits;
  readonly features: TargetFeatures;
  readonly adapter: TargetAdapter;
}

/** WebGPU's guaranteed minimums: a target every conformant device satisfies (used by tests and `kiln compile` without a device). */
export const DEFAULT_TARGET: Target = {
  limits: {
    maxStorageBufferBindingSize: 134_217_728,
    maxBufferSize: 268_435_456,
    minStorageBufferOffsetAlignment: 256,
    maxStorageBuffersPerShaderStage: 8,
    maxComputeWorkgroupStorageSize: 16_384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupSizeY: 256,
    maxComputeWorkgroupSizeZ: 64,
    maxComputeWorkgroupsPerDimension: 65_535,
  },
  features: { shaderF16: false, subgroups: false, timestampQuery: false },
  adapter: { vendor: 'generic', architecture: '', device: '', description: 'WebGPU default limits', backend: 'none', isFallbackAdapter: false },
};

/**
 * A discrete NVIDIA GPU as Dawn's Vulkan backend typically reports it (4 GiB bindings, 48 KiB of
 * workgroup memory, 1024 invocations, shader-f16 and subgroups, 16 storage buffers per kernel):
 * for compiling ahead of time, on a machine without one, what such a GPU will be asked to run.
 * Not a promise about any one card.
 *
 * The 16 is Dawn's own ceiling (kMaxStorageBuffersPerShaderStage): the driver offers far more,
 * and Dawn reports the smaller. Lavapipe, which offers a million, reports 16 through the Dawn
 * Kiln ships (test/runtime/gpu/adapter-limits.test.ts). With WebGPU's default of 8, the transformer's
 * rotary, modulation and norm prologues would not fit their kernels and 160-odd would be split
 * off into kernels of their own that a real GPU never runs.
 */
export const DISCRETE_GPU_TARGET: Target = {
  limits: {
    ...DEFAULT_TARGET.limits, maxStorageBufferBindingSize: 2 ** 32 - 4, maxBufferSize: 2 ** 32 - 4, maxComputeWorkgroupStorageSize: 49_152,
    maxStorageBuffersPerShaderStage: 16,
    maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024,
  },
  features: { shaderF16: true, subgroups: true, timestampQuery: true },
  adapter: { vendor: 'nvidia', architecture: '', device: '', description: 'a discrete NVIDIA GPU (typical Vulkan limits)', backend: 'vulkan', isFallbackAdapter: false },
};

/** A stable string naming the adapter, for cache keys (autotuner, pipeline caches). */
export function targetKey(t: Target): string {
  const a = t.adapter;
  return [a.backend, a.vendor, a.architecture, a.device, a.description].map((s) => s.replace(/[^A-Za-z0-9_.-]+/g, '_')).join('-');
}
