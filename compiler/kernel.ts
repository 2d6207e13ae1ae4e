/**
 * The compiler's output and the runtime's input: a CompiledProgram is a list of kernels over a
 * set of tensors, plus the memory plan that places every tensor in a buffer.
 *
 * Vocabulary
 * - Tensor: a materialised value with an id. Roles: `input` (given per call), `weight` (a
 *   state-dict entry, uploaded once and shared by every program that names the same key),
 *   `output` (read back on request), `intermediate` (lives only inside one call).
 * - Kernel: one compute pipeline dispatch. Its WGSL declares `@group(0) @binding(i)` for
 *   `bindings[i]`, in order, and has the entry point `main`. Sizes are baked into the source,
 *   so the source is the pipeline cache key.
 * - MemoryPlan: intermediates (and outputs) are placed in arenas at aligned offsets, reusing
 *   space whose previous tenant is dead (lifetimes come from the kernel order). Inputs and
 *   weights have buffers of their own.
 */
import type { DType } from './ir.ts';

export type TensorRole = 'input' | 'weight' | 'output' | 'intermediate';

export interface TensorInfo {
  readonly id: number;
  readonly role: TensorRole;
  /** Input name, state-dict key, or output name; a readable label for intermediates. */
  readonly name: string;
  readonly shape: readonly number[];
  /** Logical dtype; storage is f32, f16, i32, or u32 for bool. */
  readonly dtype: DType;
  /** Storage size in bytes (a multiple of 4). */
  readonly bytes: number;
}

export interface KernelBinding {
  readonly tensor: number;
  readonly access: 'read' | 'read_write';
}

export type KernelKind = 'contraction' | 'reduction' | 'attention' | 'elementwise';

export interface Kernel {
  /** Unique within the program, e.g. `k07_conv_decoder.up_blocks.0.resnets.1.conv1`. */
  readonly name: string;
  readonly wgsl: string;
  readonly workgroups: readonly [number, number, number];
  readonly bindings: readonly KernelBinding[];
  /** What the kernel is anchored on; `elementwise` means it has no reduction or contraction. */
  readonly kind: KernelKind;
  /** The source ops it implements, each `op @ path (file:line:col)`. */
  readonly sourceOps: readonly string[];
  /** Useful floating-point operations and bytes moved, for profiling reports. */
  readonly flops: number;
  readonly bytes: number;
}

export interface Placement {
  readonly arena: number;
  readonly offset: number;
}

export interface MemoryPlan {
  /** Byte sizes of the arenas that hold intermediates and outputs. */
  readonly arenas: readonly number[];
  /** tensor id -> placement, for every `intermediate` and `output` tensor. */
  readonly placements: ReadonlyMap<number, Placement>;
  /** Peak bytes of the plan: inputs + weights + arenas. */
  readonly peakBytes: number;
  readonly weightBytes: number;
  readonly inputBytes: number;
  readonly arenaBytes: number;
}

export interface CompiledProgram {
  readonly tensors: readonly TensorInfo[];
  readonly kernels: readonly Kernel[];
  /** Tensor ids, in call order for inputs and in graph order for outputs. */
  readonly inputs: readonly number[];
  readonly weights: readonly number[];
  readonly outputs: readonly number[];
  readonly plan: MemoryPlan;
}
