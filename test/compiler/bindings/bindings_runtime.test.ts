/**
 * The bindings runtime as JavaScript callers meet it (no type checker to help): inputs by name
 * with dtype, array and shape checks, weights as a path, a Map or a plain object, stale
 * bindings, free functions, and release. Results are checked against an independent
 * implementation of the example MLP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeightBindingError } from '../../../compiler/bind.ts';
import { BindingInputError, StaleBindingsError } from '../../../compiler/bindings/errors.ts';
import { loadBinding, tensor, type BindingSpec, type Tensor } from '../../../runtime/bindings_runtime.ts';
import type { HostTensor } from '../../../runtime/tensor.ts';
import { writeGeluMlpData } from '../../../examples/gelu_mlp_data.ts';
import { openSafetensors } from '../../../runtime/weights/safetensors.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { EXAMPLE, geluMlp, geluTanh, maxAbsDiff } from './gelu_mlp_reference.ts';

const CONFIG = { dim: 8, hidden: 32 };
const MLP: BindingSpec = { sources: [EXAMPLE], entry: 'GeluMLP', config: CONFIG, functions: { forward: ['x'], forward_with_hidden: ['x'] } };
const GELU: BindingSpec = { sources: [EXAMPLE], entry: 'scaled_gelu', config: {}, functions: { scaled_gelu: ['x', 'scale'] } };

const dirs = tempDirs();
let files: { weights: string; x: string };
let weights: Map<string, HostTensor>;
beforeAll(() => {
  files = writeGeluMlpData(dirs.make());
  const f = openSafetensors(files.weights);
  weights = f.readAll();
  f.close();
});
afterAll(() => dirs.cleanup());

const input = (shape: number[], dtype: 'f32' | 'i32' = 'f32'): Tensor => tensor(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i) / 2));

describe('loadBinding', () => {
  it('runs a module from a checkpoint path, with named outputs', async () => {
    const mlp = await loadBinding(MLP, files.weights, { backend: 'interp' });
    const x = input([2, 3, 8]);
    const out = await mlp.call<{ y: Tensor; h: Tensor }>('forward_with_hidden', { x });
    const want = geluMlp(weights, { dtype: 'F32', shape: [2, 3, 8], data: x.data });
    expect(out.y.shape).toEqual([2, 3, 8]);
    expect(out.h.shape).toEqual([2, 3, 32]);
    expect(out.y.data).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(out.y.data, want.y)).toBeLessThan(1e-6);
    expect(maxAbsDiff(out.h.data, want.h)).toBeLessThan(1e-6);
    await mlp.release();
    await expect(mlp.call('forward', { x })).rejects.toThrow(/called after release/);
  });

  it('takes weights as a plain object of binding tensors', async () => {
    const object = Object.fromEntries([...weights].map(([k, t]) => [k, tensor('f32', t.shape, t.data as Float32Array)]));
    const mlp = await loadBinding(MLP, object, { backend: 'interp' });
    const x = input([1, 2, 8]);
    const { out } = await mlp.call<{ out: Tensor }>('forward', { x });
    expect(maxAbsDiff(out.data, geluMlp(weights, { dtype: 'F32', shape: [1, 2, 8], data: x.data }).y)).toBeLessThan(1e-6);
    await mlp.release();
  });

  it('reports every missing and mis-shaped weight', async () => {
    const partial = new Map(weights);
    partial.delete('fc2.bias');
    partial.set('fc1.bias', { dtype: 'F32', shape: [31], data: new Float32Array(31) });
    const err = await loadBinding(MLP, partial, { backend: 'interp' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightBindingError);
    expect((err as Error).message).toMatch(/missing \(1\):\n\s+fc2\.bias \[8\]/);
    expect((err as Error).message).toMatch(/fc1\.bias: expected \[32\], found \[31\]/);
  });

  it('checks names, dtypes, arrays and shapes of inputs at run time', async () => {
    const mlp = await loadBinding(MLP, weights, { backend: 'interp' });
    const call = (inputs: object) => mlp.call('forward', inputs);
    await expect(call({ y: input([1, 2, 8]) })).rejects.toThrow(/GeluMLP\.forward has no parameter 'y'; its parameters are x: f32\[B, L, dim\]/);
    await expect(call({})).rejects.toThrow(/GeluMLP\.forward needs 'x' \(f32\[B, L, dim\]\)/);
    await expect(call({ x: input([1, 2, 8], 'i32') })).rejects.toThrow(/input 'x' is i32 but the function takes f32\[B, L, dim\]/);
    await expect(call({ x: { dtype: 'f32', shape: [1, 2, 8], data: new Float64Array(16) } })).rejects.toThrow(/an f32 tensor holds its data in a Float32Array, not a Float64Array/);
    await expect(call({ x: { dtype: 'f32', shape: [1, 2, 8], data: new Float32Array(15) } })).rejects.toThrow(/shape \[1, 2, 8\] has 16 elements but the data holds 15/);
    await expect(call({ x: input([2, 8]) })).rejects.toThrow(/input 'x' \[2, 8\] has 2 axes but x: f32\[B, L, dim\] has 3 axes/);
    await expect(call({ x: input([1, 2, 7]) })).rejects.toThrow(/has 7 on axis 2 but x: f32\[B, L, dim\] needs 8 there/);
    await expect(call({ x: [1, 2, 3] })).rejects.toThrow(BindingInputError);
    await expect(mlp.call('backward', {})).rejects.toThrow(/GeluMLP has no bound function backward; it has forward, forward_with_hidden/);
    await mlp.release();
  });

  it('refuses bindings generated for other parameters', async () => {
    const stale = { ...MLP, functions: { forward: ['input'] } };
    await expect(loadBinding(stale, weights, { backend: 'interp' })).rejects.toThrow(StaleBindingsError);
    await expect(loadBinding(stale, weights, { backend: 'interp' })).rejects.toThrow(/generated for GeluMLP with forward\(input\), but .* now declares forward\(x\)/);
    const gone = { ...MLP, functions: { backward: ['x'] } };
    await expect(loadBinding(gone, weights, { backend: 'interp' })).rejects.toThrow(/has no function backward in GeluMLP/);
  });

  it('calls free functions, with value arguments and literal defaults', async () => {
    const g = await loadBinding(GELU, undefined, { backend: 'interp' });
    const x = input([3, 2, 2]);
    const half = await g.call<{ out: Tensor }>('scaled_gelu', { x, scale: 0.5 });
    const plain = await g.call<{ out: Tensor }>('scaled_gelu', { x });
    expect(half.out.shape).toEqual([3, 2, 2]);
    expect(maxAbsDiff(half.out.data, Array.from(x.data, (v) => geluTanh(v) * 0.5))).toBeLessThan(1e-6);
    expect(maxAbsDiff(plain.out.data, Array.from(x.data, geluTanh))).toBeLessThan(1e-6);
    await g.release();
  });
});

describe('tensor', () => {
  it('makes arrays of the dtype, bools as 0 and 1, and checks the element count', () => {
    expect(tensor('i32', [2], [3.7, -1]).data).toEqual(Int32Array.from([3, -1]));
    expect(tensor('bool', [3], [0, 2, -1]).data).toEqual(Uint8Array.from([0, 1, 1]));
    expect(tensor('f32', [2, 2]).data).toEqual(new Float32Array(4));
    expect(() => tensor('f32', [2, 2], [1, 2, 3])).toThrow(/3 values given for 4 elements/);
  });
});
