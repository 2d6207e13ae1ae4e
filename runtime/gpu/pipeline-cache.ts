/**
 * Compute pipelines, cached by WGSL source and binding access modes (sizes are baked into the
 * source, so equal source means an equal pipeline). Layouts are explicit, built from each
 * kernel's bindings: `read` -> read-only storage, `read_write` -> storage. (An `auto` layout
 * would drop bindings the shader never touches and then reject the bind group.)
 * Compilation diagnostics come from `getCompilationInfo()` and become KernelErrors naming the
 * kernel; pipelines are created with `createComputePipelineAsync` so compiles can overlap.
 */
import type { Kernel, KernelBinding } from '../../compiler/kernel.ts';
import { kernelError } from './kernel-errors.ts';

/** What a pipeline is built from: the kernel's identity (for messages), its source and bindings. */
export type PipelineKernel = Pick<Kernel, 'name' | 'wgsl' | 'sourceOps'> & { readonly bindings: readonly Pick<KernelBinding, 'access'>[] };

export interface CompiledPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<CompiledPipeline>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private hitCount = 0;
  private missCount = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The pipeline for a kernel; rejects with a KernelError if it does not compile or validate. */
  get(kernel: PipelineKernel): Promise<CompiledPipeline> {
    const signature = kernel.bindings.map((b) => (b.access === 'read' ? 'r' : 'w')).join('');
    const key = `${signature}\n${kernel.wgsl}`;
    const cached = this.pipelines.get(key);
    if (cached) {
      this.hitCount++;
      return cached;
    }
    this.missCount++;
    const made = this.compile(kernel, this.layout(signature));
    this.pipelines.set(key, made);
    // A failure is not cached: the next attempt reports it afresh.
    made.catch(() => this.pipelines.delete(key));
    return made;
  }

  get stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hitCount, misses: this.missCount, size: this.pipelines.size };
  }

  private layout(signature: string): GPUBindGroupLayout {
    let layout = this.layouts.get(signature);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `kiln layout ${signature}`,
        entries: [...signature].map((c, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: c === 'r' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(signature, layout);
    }
    return layout;
  }

  private async compile(kernel: PipelineKernel, layout: GPUBindGroupLayout): Promise<CompiledPipeline> {
    const device = this.device;
    // A scope keeps shader errors away from the uncaptured-error handler; getCompilationInfo
    // gives the same diagnostics with line numbers.
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: kernel.name, code: kernel.wgsl });
    const moduleError = device.popErrorScope();
    const info = await module.getCompilationInfo();
    const scopeError = await moduleError;
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0 || scopeError) {
      throw kernelError(kernel, 'compilation', scopeError?.message ?? '', errors.map((m) => ({ message: m.message, lineNum: m.lineNum, linePos: m.linePos })));
    }
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await device.createComputePipelineAsync({
        label: kernel.name,
        layout: device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
    } catch (err) {
      const reason = (err as { reason?: string }).reason;
      const failure = reason === 'internal' ? 'internal' : 'validation';
      throw kernelError(kernel, failure, err instanceof Error ? err.message : String(err));
    }
    return { pipeline, layout };
  }
}
