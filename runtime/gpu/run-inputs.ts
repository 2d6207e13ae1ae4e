/**
 * Checking what a caller passes to a run against the program: every input named once, shapes
 * equal, HostTensors converted to storage bytes, GpuTensors live and on this device; readback
 * names that are outputs of the program.
 */
import type { TensorInfo } from '../../compiler/kernel.ts';
import type { HostTensor } from '../tensor.ts';
import type { CheckedProgram } from './program-check.ts';
import { InputMismatchError } from './errors.ts';
import { GpuTensor } from './gpu-tensor.ts';
import { toStorage } from './storage.ts';

export type RunInput = HostTensor | GpuTensor;

export type PreparedInput =
  | { readonly info: TensorInfo; readonly kind: 'host'; readonly data: Uint8Array }
  | { readonly info: TensorInfo; readonly kind: 'gpu'; readonly tensor: GpuTensor };

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export function prepareInputs(checked: CheckedProgram, inputs: Readonly<Record<string, RunInput>>, device: GPUDevice): PreparedInput[] {
  const infos = checked.program.inputs.map((id) => checked.tensors.get(id)!);
  const expected = infos.map((t) => `${t.name}: ${t.dtype}${shapeText(t.shape)}`).join(', ') || '(none)';
  const known = new Set(infos.map((t) => t.name));
  for (const name of Object.keys(inputs)) {
    if (!known.has(name)) throw new InputMismatchError(`Unknown input '${name}'. The program's inputs are: ${expected}.`);
  }
  return infos.map((info): PreparedInput => {
    const given = inputs[info.name];
    if (given === undefined) throw new InputMismatchError(`Missing input '${info.name}' (${info.dtype}${shapeText(info.shape)}). The program's inputs are: ${expected}.`);
    if (!sameShape(given.shape, info.shape)) {
      throw new InputMismatchError(`Input '${info.name}' has shape ${shapeText(given.shape)}, but the program was compiled for ${shapeText(info.shape)}. Compile the program for this shape, or resize the input.`);
    }
    if (given instanceof GpuTensor) {
      if (given.released) throw new InputMismatchError(`Input '${info.name}' is a GpuTensor ('${given.name}') that was already released.`);
      if (given.device !== device) throw new InputMismatchError(`Input '${info.name}' is a GpuTensor from another GPU device.`);
      if (given.dtype !== info.dtype) {
        throw new InputMismatchError(`Input '${info.name}' is a GpuTensor of dtype ${given.dtype}, but the program expects ${info.dtype}; GPU tensors are not converted. Read it back or compile the program for ${given.dtype}.`);
      }
      if (given.bytes < info.bytes) throw new InputMismatchError(`Input '${info.name}' is a GpuTensor of ${given.bytes} bytes, but the program binds ${info.bytes}.`);
      return { info, kind: 'gpu', tensor: given };
    }
    const data = toStorage(given, info.dtype, info.bytes);
    if (typeof data === 'string') throw new InputMismatchError(`Input '${info.name}' (${given.dtype}${shapeText(given.shape)}) cannot be stored as ${info.dtype}: ${data}.`);
    return { info, kind: 'host', data };
  });
}

/** The output tensors to read back. */
export function readbackTargets(checked: CheckedProgram, readback: readonly string[] | 'all' | undefined): TensorInfo[] {
  const outputs = checked.program.outputs.map((id) => checked.tensors.get(id)!);
  if (readback === 'all') return outputs;
  const wanted = readback ?? [];
  return wanted.map((name) => {
    const t = outputs.find((o) => o.name === name);
    if (!t) throw new InputMismatchError(`Cannot read back '${name}': it is not an output of the program. Outputs: ${outputs.map((o) => o.name).join(', ') || '(none)'}.`);
    return t;
  });
}
