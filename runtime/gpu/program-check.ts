/**
 * Checks a CompiledProgram against itself and against the device before anything is created:
 * consistent tensors, bindings and placements (else ProgramError: a compiler bug), sizes within
 * the device's limits (else ResourceLimitError, with advice), features it needs (else
 * MissingFeatureError). Also prepares each kernel for binding:
 *
 * - Buffer identity: inputs and weights have buffers of their own; intermediates and outputs
 *   share their arena's buffer.
 * - Aliasing: WebGPU rejects a dispatch that binds one buffer both read-only and writable,
 *   even at disjoint offsets. When a kernel reads a tensor from an arena it also writes, the
 *   read binding is promoted to read_write (in the layout and in the WGSL declaration), which
 *   WebGPU allows. The compiler can avoid this by planning such tensors into different arenas.
 */
import type { CompiledProgram, Kernel, KernelBinding, TensorInfo } from '../../compiler/kernel.ts';
import type { Target } from '../../compiler/target.ts';
import { elementCount } from '../tensor.ts';
import { MissingFeatureError, ProgramError, ResourceLimitError, formatBytes } from './errors.ts';
import { formatSourceOps } from './kernel-errors.ts';
import { gpuBytes } from './storage.ts';

/** A kernel as it will be bound: possibly with promoted bindings. */
export interface PreparedKernel {
  readonly kernel: Kernel;
  readonly wgsl: string;
  readonly bindings: readonly KernelBinding[];
  /** Binding indices promoted from read to read_write because of aliasing. */
  readonly promoted: readonly number[];
}

export interface CheckedProgram {
  readonly program: CompiledProgram;
  readonly tensors: ReadonlyMap<number, TensorInfo>;
  readonly kernels: readonly PreparedKernel[];
  readonly needsF16: boolean;
}

export const describeTensor = (t: TensorInfo): string =>
  `'${t.name}' (${t.role}, ${t.dtype}[${t.shape.join(', ')}], ${formatBytes(t.bytes)})`;

const TILING_ADVICE = 'Use tiling to run the model in smaller pieces (e.g. `kiln vae decode --tile`) or a smaller input.';

export function checkProgram(program: CompiledProgram, target: Target): CheckedProgram {
  const tensors = new Map<number, TensorInfo>();
  for (const t of program.tensors) {
    if (tensors.has(t.id)) throw new ProgramError(`Program lists tensor id ${t.id} twice ('${tensors.get(t.id)!.name}' and '${t.name}').`);
    tensors.set(t.id, t);
    checkTensorBytes(t);
  }
  const byRole = (ids: readonly number[], role: TensorInfo['role'], list: string): void => {
    for (const id of ids) {
      const t = tensors.get(id);
      if (!t) throw new ProgramError(`Program's ${list} names tensor id ${id}, which is not in its tensor list.`);
      if (t.role !== role) throw new ProgramError(`Program's ${list} names tensor ${describeTensor(t)} whose role is '${t.role}', not '${role}'.`);
    }
  };
  byRole(program.inputs, 'input', 'inputs');
  byRole(program.weights, 'weight', 'weights');
  byRole(program.outputs, 'output', 'outputs');
  checkPlan(program, tensors, target);
  checkLimits(program, tensors, target);
  const needsF16 = checkFeatures(program, target);
  const kernels = program.kernels.map((k) => prepareKernel(k, tensors, program));
  return { program, tensors, kernels, needsF16 };
}

function checkTensorBytes(t: TensorInfo): void {
  const need = gpuBytes(t.dtype, elementCount(t.shape));
  if (t.bytes % 4 !== 0 || t.bytes < need) {
    throw new ProgramError(`Tensor ${describeTensor(t)}: its byte size ${t.bytes} must be a multiple of 4 and at least ${need} for ${elementCount(t.shape)} ${t.dtype} elements.`);
  }
}

function checkPlan(program: CompiledProgram, tensors: ReadonlyMap<number, TensorInfo>, target: Target): void {
  const { arenas, placements } = program.plan;
  const align = target.limits.minStorageBufferOffsetAlignment;
  for (const t of tensors.values()) {
    if (t.role !== 'intermediate' && t.role !== 'output') continue;
    const p = placements.get(t.id);
    if (!p) throw new ProgramError(`Memory plan has no placement for ${describeTensor(t)}.`);
    if (!(p.arena >= 0 && p.arena < arenas.length)) throw new ProgramError(`Memory plan places ${describeTensor(t)} in arena ${p.arena}, but there are ${arenas.length} arenas.`);
    if (p.offset + t.bytes > arenas[p.arena]) {
      throw new ProgramError(`Memory plan places ${describeTensor(t)} at offset ${p.offset} of arena ${p.arena}, which has only ${arenas[p.arena]} bytes.`);
    }
    if (p.offset % align !== 0) {
      throw new ProgramError(`Memory plan places ${describeTensor(t)} at offset ${p.offset} of arena ${p.arena}; storage bindings need offsets that are multiples of this device's minStorageBufferOffsetAlignment (${align}).`);
    }
  }
  for (const k of program.kernels) {
    k.bindings.forEach((b, i) => {
      if (!tensors.has(b.tensor)) throw new ProgramError(`Kernel '${k.name}' binding ${i} names tensor id ${b.tensor}, which is not in the program's tensor list.`);
    });
  }
}

function checkLimits(program: CompiledProgram, tensors: ReadonlyMap<number, TensorInfo>, target: Target): void {
  const L = target.limits;
  const device = `this device (${target.adapter.description || target.adapter.device || target.adapter.vendor}, ${target.adapter.backend})`;
  const bound = new Set(program.kernels.flatMap((k) => k.bindings.map((b) => b.tensor)));
  for (const t of tensors.values()) {
    if (t.bytes > L.maxBufferSize) {
      throw new ResourceLimitError(`Tensor ${describeTensor(t)} is larger than the largest buffer ${device} can create (maxBufferSize ${formatBytes(L.maxBufferSize)}). ${TILING_ADVICE}`, 'maxBufferSize');
    }
    if (bound.has(t.id) && t.bytes > L.maxStorageBufferBindingSize) {
      throw new ResourceLimitError(`Tensor ${describeTensor(t)} is larger than a kernel can bind on ${device} (maxStorageBufferBindingSize ${formatBytes(L.maxStorageBufferBindingSize)}). ${TILING_ADVICE}`, 'maxStorageBufferBindingSize');
    }
  }
  program.plan.arenas.forEach((size, i) => {
    if (size > L.maxBufferSize) {
      throw new ResourceLimitError(`Arena ${i} of the memory plan (${formatBytes(size)}) is larger than the largest buffer ${device} can create (maxBufferSize ${formatBytes(L.maxBufferSize)}). ${TILING_ADVICE}`, 'maxBufferSize');
    }
  });
  for (const k of program.kernels) {
    if (k.bindings.length > L.maxStorageBuffersPerShaderStage) {
      throw new ResourceLimitError(`Kernel '${k.name}' binds ${k.bindings.length} storage buffers; ${device} allows ${L.maxStorageBuffersPerShaderStage} (maxStorageBuffersPerShaderStage). Compile the program for this device's target so fusion respects the limit.\n${formatSourceOps(k.sourceOps)}`, 'maxStorageBuffersPerShaderStage');
    }
    k.workgroups.forEach((n, axis) => {
      if (!Number.isInteger(n) || n < 0) throw new ProgramError(`Kernel '${k.name}' has an invalid workgroup count ${n} on axis ${'xyz'[axis]}.`);
      if (n > L.maxComputeWorkgroupsPerDimension) {
        throw new ResourceLimitError(`Kernel '${k.name}' dispatches ${n} workgroups along ${'xyz'[axis]}; ${device} allows ${L.maxComputeWorkgroupsPerDimension} per dimension (maxComputeWorkgroupsPerDimension). ${TILING_ADVICE}\n${formatSourceOps(k.sourceOps)}`, 'maxComputeWorkgroupsPerDimension');
      }
    });
  }
}

const ENABLE_F16 = /\benable\s+f16\s*;/;
const ENABLE_SUBGROUPS = /\benable\s+subgroups\s*;/;

function checkFeatures(program: CompiledProgram, target: Target): boolean {
  const f16Tensor = program.tensors.find((t) => t.dtype === 'f16');
  const f16Kernel = program.kernels.find((k) => ENABLE_F16.test(k.wgsl));
  const needsF16 = f16Tensor !== undefined || f16Kernel !== undefined;
  const dev = target.adapter.description || target.adapter.device || target.adapter.backend;
  if (needsF16 && !target.features.shaderF16) {
    const why = f16Tensor ? `tensor ${describeTensor(f16Tensor)} is stored as f16` : `kernel '${f16Kernel!.name}' uses f16 arithmetic`;
    throw new MissingFeatureError(`This program needs the WebGPU feature 'shader-f16' (${why}), which this device (${dev}) does not offer. Compile it with f32 storage for this device, or run it on a GPU that supports shader-f16 (\`kiln devices\` lists the features).`);
  }
  const sg = program.kernels.find((k) => ENABLE_SUBGROUPS.test(k.wgsl));
  if (sg && !target.features.subgroups) {
    throw new MissingFeatureError(`Kernel '${sg.name}' uses subgroup operations (the WebGPU feature 'subgroups'), which this device (${dev}) does not offer. Compile the program for this device's target (\`kiln devices\` lists the features).`);
  }
  return needsF16;
}

/** Which buffer a tensor lives in, as far as WebGPU's aliasing rule is concerned. */
function bufferKey(t: TensorInfo, program: CompiledProgram): string {
  if (t.role === 'intermediate' || t.role === 'output') return `arena${program.plan.placements.get(t.id)!.arena}`;
  return `tensor${t.id}`;
}

function prepareKernel(kernel: Kernel, tensors: ReadonlyMap<number, TensorInfo>, program: CompiledProgram): PreparedKernel {
  const written = new Set<string>();
  for (const b of kernel.bindings) if (b.access === 'read_write') written.add(bufferKey(tensors.get(b.tensor)!, program));
  const promoted: number[] = [];
  kernel.bindings.forEach((b, i) => {
    if (b.access === 'read' && written.has(bufferKey(tensors.get(b.tensor)!, program))) promoted.push(i);
  });
  if (promoted.length === 0) return { kernel, wgsl: kernel.wgsl, bindings: kernel.bindings, promoted };
  let wgsl = kernel.wgsl;
  for (const i of promoted) {
    const next = promoteBinding(wgsl, i);
    if (next === undefined) {
      const t = tensors.get(kernel.bindings[i].tensor)!;
      throw new ProgramError(`Kernel '${kernel.name}' reads ${describeTensor(t)} (binding ${i}) from an arena it also writes; WebGPU forbids binding one buffer read-only and writable in one dispatch, and the runtime could not find the declaration of @binding(${i}) in the WGSL to make it read_write. Plan such tensors into different arenas, or declare the binding read_write.\n${formatSourceOps(kernel.sourceOps)}`);
    }
    wgsl = next;
  }
  const bindings = kernel.bindings.map((b, i): KernelBinding => (promoted.includes(i) ? { tensor: b.tensor, access: 'read_write' } : b));
  return { kernel, wgsl, bindings, promoted };
}

/** The WGSL with `@group(0) @binding(i) var<storage, read>` (or `var<storage>`) made read_write. */
export function promoteBinding(wgsl: string, binding: number): string | undefined {
  const attrs = String.raw`(?:@group\(\s*0\s*\)\s*@binding\(\s*${binding}\s*\)|@binding\(\s*${binding}\s*\)\s*@group\(\s*0\s*\))`;
  const decl = new RegExp(String.raw`(${attrs}\s*var\s*<\s*storage)(\s*,\s*read\s*)?>`);
  if (!decl.test(wgsl)) return undefined;
  return wgsl.replace(decl, '$1, read_write>');
}
