/**
 * Checking kernels with Dawn's shader compiler without running them. Dawn's null backend offers
 * every feature (shader-f16, subgroups, subgroup matrices) on any machine and validates like a
 * real one: Tint parses and type-checks the WGSL, and pipeline creation checks the layout,
 * limits and feature rules (e.g. a subgroup-matrix kernel's workgroup width against the
 * subgroup size). So a kernel written for an adapter that is not here, such as an NVIDIA GPU's
 * tensor cores, is checked by the same code that will see it there. The null backend executes
 * nothing: nothing is ever read back from it.
 */
import type { Target } from '../../compiler/target.ts';
import { targetOf, type SubgroupMatrixSupport } from './adapter-info.ts';
import { adapterOptions, dawnInstance } from './dawn.ts';
import { requestKilnDevice } from './request-device.ts';

export interface ShaderDiagnostic {
  readonly severity: 'error' | 'warning' | 'info';
  /** 1-based line in the WGSL, when the compiler gave one. */
  readonly line?: number;
  readonly message: string;
}

export interface ShaderChecker {
  /**
   * A discrete GPU with every feature Kiln uses, at the null device's limits: compile for it to
   * check the kernels a GPU gets (its heuristic tiles and code, f16, subgroups) on any machine.
   */
  readonly gpuTarget: Target;
  /** Its subgroup sizes: a subgroup-matrix kernel's workgroup width must be a multiple of the largest. */
  readonly subgroupMaxSize: number;
  /**
   * Support to compile subgroup-matrix kernels for: the null adapter lists no configurations,
   * so these are the caller's (the shapes a real adapter would report) with the null device's
   * subgroup size.
   */
  supportFor(configs: SubgroupMatrixSupport['configs']): SubgroupMatrixSupport;
  /** Compiles the kernel and creates its pipeline; returns what Dawn said (errors first). Calls run one at a time. */
  check(wgsl: string): Promise<ShaderDiagnostic[]>;
}

let opened: Promise<ShaderChecker> | undefined;

/** The process's shader checker (one null-backend device, opened on first use). */
export function shaderChecker(): Promise<ShaderChecker> {
  opened ??= openChecker().catch((err: unknown) => {
    opened = undefined;
    throw err;
  });
  return opened;
}

async function openChecker(): Promise<ShaderChecker> {
  const adapter = await dawnInstance('null').requestAdapter(adapterOptions('null'));
  if (!adapter) throw new Error("Dawn's null backend offered no adapter: this build of the webgpu package cannot check shaders");
  const device = await requestKilnDevice(adapter, 'kiln shader check');
  const subgroupMaxSize = (adapter.info as { subgroupMaxSize?: number }).subgroupMaxSize ?? 0;
  // Validation errors of a check are caught by its error scope; nothing else should reach here.
  device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => console.error(`kiln: shader check: ${ev.error.message}`);
  // Backend 'vulkan': the code a Vulkan GPU gets (OpenGL ES kernels differ, see writer.ts).
  const target = targetOf(adapter, device, 'vulkan');
  const checkOne = async (wgsl: string): Promise<ShaderDiagnostic[]> => {
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: wgsl });
    const info = await module.getCompilationInfo();
    const found: ShaderDiagnostic[] = info.messages.map((m) => ({ severity: m.type, line: m.lineNum || undefined, message: m.message }));
    device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const err = await device.popErrorScope();
    // A WGSL error is reported twice (the message and the pipeline's error); keep the message.
    if (err && !found.some((d) => d.severity === 'error')) found.push({ severity: 'error', message: err.message });
    return found.sort((a, b) => rank(a) - rank(b));
  };
  // Error scopes are a stack shared by the device: overlapping checks caught each other's
  // WGSL errors (test/runtime/gpu/shader-check.test.ts), so checks run one at a time.
  let last: Promise<unknown> = Promise.resolve();
  return {
    gpuTarget: { ...target, adapter: { ...target.adapter, description: "Dawn's null device as a GPU", isFallbackAdapter: false } },
    subgroupMaxSize,
    supportFor: (configs) => ({ configs, subgroupMaxSize }),
    check(wgsl) {
      const result = last.then(() => checkOne(wgsl));
      last = result.catch(() => undefined);
      return result;
    },
  };
}

const rank = (d: ShaderDiagnostic): number => (d.severity === 'error' ? 0 : d.severity === 'warning' ? 1 : 2);
