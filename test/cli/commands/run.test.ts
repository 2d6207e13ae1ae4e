/**
 * `kiln run` through main() on the example MLP (examples/gelu_mlp.kiln): outputs checked
 * against an independent float64 implementation, free functions, named outputs, input
 * selection, and the messages and exit codes of each kind of mistake. Interpreter runs, plus
 * one WebGPU run with --profile (skipped without an adapter).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { captureConsole } from '../console_capture.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { openSafetensors, writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { writeGeluMlpData } from '../../../examples/gelu_mlp_data.ts';
import { EXAMPLE, EXAMPLE_CONFIG, geluMlp, geluTanh, maxAbsDiff } from '../../compiler/bindings/gelu_mlp_reference.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';

const gpu = (await deviceOrUndefined()) !== undefined;
// main() opens and releases the device itself.
await releaseDevice();

const dirs = tempDirs();
let dir: string;
let data: { weights: string; x: string };
let weights: Map<string, HostTensor>;
let x: HostTensor;
beforeAll(() => {
  dir = dirs.make();
  data = writeGeluMlpData(dir);
  const w = openSafetensors(data.weights);
  weights = w.readAll();
  w.close();
  const f = openSafetensors(data.x);
  x = f.read('x');
  f.close();
});
afterAll(() => dirs.cleanup());

const { out, err } = captureConsole();

const readOutputs = (path: string): Map<string, HostTensor> => {
  const f = openSafetensors(path);
  try {
    return f.readAll();
  } finally {
    f.close();
  }
};

const mlpArgs = (outFile: string, ...more: string[]) => [
  'run', EXAMPLE, '--entry', 'GeluMLP', '--config', EXAMPLE_CONFIG, '--weights', data.weights, '--in', `x=${data.x}`, '--out', outFile, ...more,
];

describe('kiln run (interp)', () => {
  it('runs a module, prints the plan before the outputs, and writes them', async () => {
    const outFile = join(dir, 'y.safetensors');
    expect(await main(mlpArgs(outFile, '--backend', 'interp'))).toBe(0);
    const got = readOutputs(outFile);
    expect([...got.keys()]).toEqual(['out']);
    const y = got.get('out')!;
    expect(y.dtype).toBe('F32');
    expect(y.shape).toEqual([2, 5, 8]);
    expect(maxAbsDiff(toFloat64(y), geluMlp(weights, x).y)).toBeLessThan(1e-6);
    const text = out.join('\n');
    expect(out[0]).toBe('kiln run: GeluMLP.forward on interp');
    expect(text).toContain(`  x: F32[2, 5, 8] from ${data.x} [x]`);
    const plan = out.findIndex((l) => l.startsWith('planned peak memory: '));
    const wrote = out.findIndex((l) => l.startsWith('wrote 1 output to '));
    expect(plan).toBeGreaterThan(0);
    expect(wrote).toBeGreaterThan(plan);
    expect(out[wrote + 1]).toBe('  out: f32[2, 5, 8]  (declared f32[B, L, 8])');
    expect(openSafetensors(outFile).metadata).toMatchObject({ kiln_entry: 'GeluMLP.forward', kiln_backend: 'interp' });
  });

  it('runs a named function with --set config and writes each named output', async () => {
    const outFile = join(dir, 'yh.safetensors');
    expect(await main([
      'run', EXAMPLE, '--entry', 'GeluMLP.forward_with_hidden', '--set', 'dim=8', '--set', 'hidden=32',
      '--weights', data.weights, '--in', `x=${data.x}`, '--out', outFile, '--backend', 'interp',
    ])).toBe(0);
    const got = readOutputs(outFile);
    const want = geluMlp(weights, x);
    expect(got.get('y')!.shape).toEqual([2, 5, 8]);
    expect(got.get('h')!.shape).toEqual([2, 5, 32]);
    expect(maxAbsDiff(toFloat64(got.get('y')!), want.y)).toBeLessThan(1e-6);
    expect(maxAbsDiff(toFloat64(got.get('h')!), want.h)).toBeLessThan(1e-6);
  });

  it('runs a free function with --arg, and with its default', async () => {
    const outFile = join(dir, 'g.safetensors');
    expect(await main(['run', EXAMPLE, '--entry', 'scaled_gelu', '--in', `x=${data.x}`, '--arg', 'scale=0.5', '--out', outFile, '--backend', 'interp'])).toBe(0);
    expect(out.join('\n')).toContain('  scale = 0.5');
    const half = readOutputs(outFile).get('out')!;
    expect(maxAbsDiff(toFloat64(half), Array.from(toFloat64(x), (v) => geluTanh(v) * 0.5))).toBeLessThan(1e-6);
    expect(await main(['run', EXAMPLE, '--entry', 'scaled_gelu', '--in', `x=${data.x}`, '--out', outFile, '--backend', 'interp'])).toBe(0);
    expect(maxAbsDiff(toFloat64(readOutputs(outFile).get('out')!), Array.from(toFloat64(x), geluTanh))).toBeLessThan(1e-6);
  });

  it('picks an input by key, by name or as the only tensor, and asks when it cannot tell', async () => {
    const many = join(dir, 'many.safetensors');
    writeSafetensors(many, { a: { dtype: 'F32', shape: [3], data: Float32Array.from([1, -2, 3]) }, b: { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) } });
    const outFile = join(dir, 'pick.safetensors');
    const run = (spec: string) => main(['run', EXAMPLE, '--entry', 'scaled_gelu', '--in', spec, '--out', outFile, '--backend', 'interp']);
    expect(await run(`x=${many}:b`)).toBe(0);
    // F16 inputs enter as f32: 1.0 and -2.0.
    expect(maxAbsDiff(toFloat64(readOutputs(outFile).get('out')!), [geluTanh(1), geluTanh(-2)])).toBeLessThan(1e-6);
    expect(await run(`x=${many}`)).toBe(2);
    expect(err.at(-1)).toMatch(/--in x=.*many\.safetensors holds 2 tensors and none is named x; pick one with --in x=.*:KEY \(keys: a, b\)/);
    expect(existsSync(join(dir, 'nothing.safetensors'))).toBe(false);
  });

  it('dumps the kernels compiled for the plan with --dump-wgsl', async () => {
    const wgsl = join(dir, 'wgsl');
    expect(await main(mlpArgs(join(dir, 'd.safetensors'), '--backend', 'interp', '--dump-wgsl', wgsl))).toBe(0);
    const kernels = readdirSync(wgsl).filter((f) => f.endsWith('.wgsl'));
    expect(kernels.length).toBeGreaterThan(0);
    const index = readFileSync(join(wgsl, 'index.txt'), 'utf8');
    for (const k of kernels) expect(index).toContain(k);
    expect(out.join('\n')).toContain(`wrote ${kernels.length} kernel${kernels.length === 1 ? '' : 's'} and index.txt under ${wgsl}`);
  });
});

describe('kiln run: mistakes', () => {
  const outFile = () => join(dir, 'never.safetensors');
  afterEach(() => expect(existsSync(outFile())).toBe(false));

  it('asks for --weights when the module has weights (exit 2)', async () => {
    expect(await main(['run', EXAMPLE, '--entry', 'GeluMLP', '--config', EXAMPLE_CONFIG, '--in', `x=${data.x}`, '--out', outFile(), '--backend', 'interp'])).toBe(2);
    expect(err.at(-1)).toBe('kiln run: GeluMLP has 4 weight tensors (fc1.weight, fc1.bias, fc2.weight, ...); give them with --weights CHECKPOINT');
  });

  it('reports weights that do not fit the config (exit 1)', async () => {
    // hidden = 16 instead of 32: fc1.weight, fc1.bias and fc2.weight change shape, fc2.bias [dim] does not.
    expect(await main(['run', EXAMPLE, '--entry', 'GeluMLP', '--set', 'dim=8', '--set', 'hidden=16', '--weights', data.weights, '--in', `x=${data.x}`, '--out', outFile(), '--backend', 'interp'])).toBe(1);
    expect(err.at(-1)).toMatch(/do not match the module:\n {2}wrong shape \(3\):\n {4}fc1\.weight: expected \[16, 8\], found \[32, 8\]/);
  });

  it('reports an input of the wrong dtype or shape (exit 1)', async () => {
    const ints = join(dir, 'ints.safetensors');
    writeSafetensors(ints, { x: { dtype: 'I32', shape: [2, 5, 8], data: new Int32Array(80) } });
    expect(await main(['run', EXAMPLE, '--entry', 'GeluMLP', '--config', EXAMPLE_CONFIG, '--weights', data.weights, '--in', `x=${ints}`, '--out', outFile(), '--backend', 'interp'])).toBe(1);
    expect(err.at(-1)).toMatch(/--in x=.*ints\.safetensors: the tensor is I32, but x: f32\[B, L, dim\] takes f32 \(F32, F64, F16, BF16\)/);
    const wide = join(dir, 'wide.safetensors');
    writeSafetensors(wide, { x: { dtype: 'F32', shape: [2, 5, 9], data: new Float32Array(90) } });
    expect(await main(['run', EXAMPLE, '--entry', 'GeluMLP', '--config', EXAMPLE_CONFIG, '--weights', data.weights, '--in', `x=${wide}`, '--out', outFile(), '--backend', 'interp'])).toBe(1);
    expect(err.at(-1)).toMatch(/the tensor \[2, 5, 9\] has 9 on axis 2 but x: f32\[B, L, dim\] needs 8 there \(f32\[B, L, 8\] with this config\)/);
  });

  it('reports a config the module does not take (exit 1)', async () => {
    expect(await main(['run', EXAMPLE, '--entry', 'GeluMLP', '--set', 'dim=8', '--set', 'width=3', '--weights', data.weights, '--in', `x=${data.x}`, '--out', outFile(), '--backend', 'interp'])).toBe(1);
    expect(err.at(-1)).toMatch(/module GeluMLP has no parameter 'width'/);
  });

  it('prints the type errors of the source instead of running it (exit 1)', async () => {
    const bad = join(dir, 'bad.kiln');
    writeFileSync(bad, 'fn widen(x: f32[B, 4]) -> f32[B, 5] {\n  x\n}\n');
    expect(await main(['run', bad, '--entry', 'widen', '--in', `x=${data.x}`, '--out', outFile(), '--backend', 'interp'])).toBe(1);
    // Line 2, column 3: the body's result x, which is f32[B, 4].
    expect(err.at(-1)).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:3: error: the result of widen must be f32\\[B, 5\\]`));
    expect(err.at(-1)).not.toMatch(/\n\s+at /);
  });

  it('treats mistakes in the command line as usage errors (exit 2)', async () => {
    const run = (...a: string[]) => main(['run', EXAMPLE, '--out', outFile(), '--backend', 'interp', ...a]);
    expect(await run('--entry', 'Nope')).toBe(2);
    expect(err.at(-1)).toMatch(/--entry Nope: there is no module or function named Nope .*modules: GeluMLP; functions: scaled_gelu/);
    expect(await run('--entry', 'scaled_gelu', '--in', `y=${data.x}`)).toBe(2);
    expect(err.at(-1)).toMatch(/--in y: scaled_gelu has no parameter y; its parameters are x: f32\[\.\.\.S\], scale: float \(optional\)/);
    expect(await run('--entry', 'scaled_gelu', '--arg', 'x=3')).toBe(2);
    expect(err.at(-1)).toMatch(/--arg x: x is a tensor \(f32\[\.\.\.S\]\); give it with --in x=FILE\.safetensors/);
    expect(await run('--entry', 'scaled_gelu', '--arg', 'scale=0.5')).toBe(2);
    expect(err.at(-1)).toMatch(/scaled_gelu needs 'x' \(f32\[\.\.\.S\]\)/);
    expect(await run('--entry', 'scaled_gelu', '--in', `x=${data.x}`, '--set', 'dim=3')).toBe(2);
    expect(err.at(-1)).toMatch(/scaled_gelu is a free function: it has no config/);
    expect(await run('--entry', 'scaled_gelu', '--in', `x=${data.x}`, '--arg', 'scale=[1,')).toBe(2);
    expect(err.at(-1)).toMatch(/--arg scale: "\[1," is not a JSON value/);
    expect(await run('--entry', 'scaled_gelu', '--in', `x=${join(dir, 'missing.safetensors')}`)).toBe(2);
    expect(err.at(-1)).toMatch(/--in x=.*missing\.safetensors: no such file/);
    expect(await run('--entry', 'GeluMLP', '--profile')).toBe(2);
    expect(err.at(-1)).toMatch(/--profile measures GPU kernels: it needs --backend webgpu/);
    expect(await main(['run', EXAMPLE, '--entry', 'scaled_gelu', '--in', `x=${data.x}`])).toBe(2);
    expect(err.at(-1)).toMatch(/--out OUT\.safetensors is required/);
  });
});

describe.skipIf(!gpu)(gpu ? 'kiln run on WebGPU' : `kiln run on WebGPU: ${NO_ADAPTER}`, () => {
  it('runs the fused kernels, prints the plan and the per-kernel profile', async () => {
    const outFile = join(dir, 'gpu.safetensors');
    expect(await main(mlpArgs(outFile, '--profile'))).toBe(0);
    const y = readOutputs(outFile).get('out')!;
    expect(y.shape).toEqual([2, 5, 8]);
    expect(maxAbsDiff(toFloat64(y), geluMlp(weights, x).y)).toBeLessThan(1e-4);
    expect(out[0]).toMatch(/^kiln run: GeluMLP\.forward on webgpu \(/);
    const plan = out.findIndex((l) => /^planned peak memory: .*; \d+ kernels?$/.test(l));
    expect(plan).toBeGreaterThan(0);
    const header = out.findIndex((l) => /^profile: \d+ kernels?$/.test(l));
    expect(header).toBeGreaterThan(plan);
    const kernels = Number(/^profile: (\d+)/.exec(out[header])![1]);
    const table = out[header + 1].split('\n');
    expect(table[0]).toMatch(/^kernel\s+ms\s+%\s+GFLOP\/s\s+GB\/s\s+source ops$/);
    // Header, rule, one row per kernel, rule, total, and the timing method.
    expect(table).toHaveLength(kernels + 5);
    expect(table.at(-2)).toMatch(/^total\s/);
  });
});
