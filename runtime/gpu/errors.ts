/**
 * Errors the runtime raises. Those a user can cause or fix (no adapter, a tensor too large for
 * the device, a checkpoint that does not fit the program, a lost device) carry
 * `userFacing = true` so the CLI prints their message without a stack trace; each message says
 * what went wrong, where, what was expected and how to fix it. The rest point at a bug in Kiln
 * (usually a generated kernel) and keep their stack.
 */

/** No backend produced a WebGPU adapter (or a device). */
export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
  readonly userFacing = true;
  /** One line per backend tried, e.g. `vulkan: requestAdapter() returned no adapter`. */
  readonly attempts: readonly string[];
  /** What Dawn, the Vulkan loader or EGL printed while trying, if anything. */
  readonly driverMessages: readonly string[];
  constructor(message: string, attempts: readonly string[], driverMessages: readonly string[]) {
    super(message);
    this.attempts = attempts;
    this.driverMessages = driverMessages;
  }
}

/** The GPUDevice is gone (driver reset, watchdog, destroy()); nothing on it can be used again. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  readonly userFacing = true;
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message);
    this.reason = reason;
  }
}

/** What part of running a kernel failed. */
export type KernelFailure = 'compilation' | 'validation' | 'out-of-memory' | 'internal';

/**
 * A kernel failed to compile, to validate or to run. Names the kernel and the source ops it
 * implements. Only out-of-memory failures are the user's to fix (smaller inputs, tiling).
 */
export class KernelError extends Error {
  override name = 'KernelError';
  readonly userFacing: boolean;
  /** The kernel's `name`, or undefined when the failure could not be pinned on one kernel. */
  readonly kernel: string | undefined;
  readonly sourceOps: readonly string[];
  readonly failure: KernelFailure;
  /** 1-based WGSL line the compiler message points at, when it names one. */
  readonly wgslLine: number | undefined;
  constructor(message: string, info: { kernel: string | undefined; sourceOps: readonly string[]; failure: KernelFailure; wgslLine?: number }) {
    super(message);
    this.kernel = info.kernel;
    this.sourceOps = info.sourceOps;
    this.failure = info.failure;
    this.wgslLine = info.wgslLine;
    this.userFacing = info.failure === 'out-of-memory';
  }
}

/** A tensor, arena or dispatch exceeds what the device allows; found before anything is created. */
export class ResourceLimitError extends Error {
  override name = 'ResourceLimitError';
  readonly userFacing = true;
  /** The limit that was exceeded, e.g. `maxStorageBufferBindingSize`. */
  readonly limit: string;
  constructor(message: string, limit: string) {
    super(message);
    this.limit = limit;
  }
}

/** A program needs a device feature (e.g. shader-f16) this device does not have. */
export class MissingFeatureError extends Error {
  override name = 'MissingFeatureError';
  readonly userFacing = true;
}

/** Inputs given to a run do not match the program's inputs (names, shapes, dtypes). */
export class InputMismatchError extends Error {
  override name = 'InputMismatchError';
  readonly userFacing = true;
}

/** A weight is missing from the weight set, or its shape/dtype does not match the program. */
export class WeightMismatchError extends Error {
  override name = 'WeightMismatchError';
  readonly userFacing = true;
}

/** A CompiledProgram is internally inconsistent (a compiler bug, not a user mistake). */
export class ProgramError extends Error {
  override name = 'ProgramError';
}

/** A GpuTensor was used after release(), or on another device. */
export class GpuTensorError extends Error {
  override name = 'GpuTensorError';
}

export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
};
