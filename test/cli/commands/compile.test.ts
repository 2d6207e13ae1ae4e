/**
 * `kiln compile` through main(): kernels for given shapes (counts, plan, outputs, dumps),
 * typed bindings with --emit-ts (written whole or not at all), free functions, and the
 * messages and exit codes of mistakes. Only --device needs a GPU adapter.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { captureConsole } from '../console_capture.ts';
import { EXAMPLE, EXAMPLE_CONFIG } from '../../compiler/bindings/gelu_mlp_reference.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { releaseDevice } from '../../../runtime/device.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { out, err } = captureConsole();

const mlp = (...more: string[]) => ['compile', EXAMPLE, '--entry', 'GeluMLP', '--config', EXAMPLE_CONFIG, ...more];

const gpu = await deviceOrUndefined();
afterAll(async () => {
  if (gpu) await releaseDevice();
});

describe.skipIf(!gpu)(gpu ? 'kiln compile --device' : `kiln compile --device — ${NO_ADAPTER}`, () => {
  it('compiles for the adapter\'s own limits and names the adapter', async () => {
    expect(await main(mlp('--shapes', 'x=[2,5,8]', '--device'))).toBe(0);
    expect(out[1]).toMatch(/^compiled for this adapter \(.+\) in \d+ ms: \d+ kernels? \(/);
  });
});

describe('kiln compile --shapes', () => {
  it('compiles for the shapes, prints kernels, plan and outputs, and dumps the kernels', async () => {
    const dir = dirs.make();
    const wgsl = join(dir, 'wgsl');
    expect(await main(mlp('--shapes', 'x=[2,5,8]', '--dump-wgsl', wgsl))).toBe(0);
    expect(out[0]).toBe('GeluMLP.forward(x: f32[2, 5, 8])');
    const kernels = Number(/^compiled for WebGPU's default limits in \d+ ms: (\d+) kernels? \(/.exec(out[1])![1]);
    const files = readdirSync(wgsl).filter((f) => f.endsWith('.wgsl'));
    expect(files).toHaveLength(kernels);
    // Inputs 2*5*8 floats, weights 32*8 + 32 + 8*32 + 8 floats.
    expect(out[2]).toMatch(/^planned peak memory: [\d.]+ [KM]?i?B \(inputs 320 B, weights 2\.2 KiB, /);
    expect(out).toContain('  output out: f32[2, 5, 8]');
    expect(readFileSync(join(wgsl, 'index.txt'), 'utf8')).toContain(`Kiln program: ${kernels} kernel`);
  });

  it("has Dawn's shader compiler check every kernel with --check-shaders (no GPU needed)", async () => {
    expect(await main(mlp('--shapes', 'x=[2,5,8]', '--check-shaders'))).toBe(0);
    const kernels = Number(/: (\d+) kernels? \(/.exec(out[1])![1]);
    expect(out.at(-1)).toBe(`checked ${kernels} kernel${kernels === 1 ? '' : 's'} with Dawn's shader compiler (null backend): all compile`);
  });

  it('compiles a named function and a free function with --arg', async () => {
    expect(await main(mlp('--entry', 'GeluMLP.forward_with_hidden', '--shapes', 'x=[3,8]'))).toBe(2);
    expect(err.at(-1)).toMatch(/--shapes x=\[3, 8\] has 2 axes but x: f32\[B, L, dim\] has 3 axes/);
    expect(await main(mlp('--entry', 'GeluMLP.forward_with_hidden', '--shapes', 'x=[1,3,8]'))).toBe(0);
    expect(out).toContain('  output y: f32[1, 3, 8]');
    expect(out).toContain('  output h: f32[1, 3, 32]');
    expect(await main(['compile', EXAMPLE, '--entry', 'scaled_gelu', '--shapes', 'x=[4,6]', '--arg', 'scale=2'])).toBe(0);
    expect(out).toContain('scaled_gelu(x: f32[4, 6], scale: 2)');
    expect(out).toContain('  output out: f32[4, 6]');
  });
});

describe('kiln compile --emit-ts', () => {
  it('writes the bindings for every function of the module', async () => {
    const dir = dirs.make();
    const file = join(dir, 'sub', 'mlp.bindings.ts');
    expect(await main(mlp('--emit-ts', file))).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('export type WeightKey = "fc1.weight" | "fc1.bias" | "fc2.weight" | "fc2.bias";');
    expect(text).toContain('readonly x: kiln.Tensor<"f32", readonly [B, L, 8]>;');
    expect(text).toContain('export interface ForwardWithHiddenOutputs<B extends number = number, L extends number = number> {');
    expect(text).toContain('readonly h: kiln.Tensor<"f32", readonly [B, L, 32]>;');
    expect(out).toEqual([`wrote bindings ${file} (forward, forward_with_hidden; 4 weight keys)`]);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['mlp.bindings.ts']);
  });

  it('leaves no file behind when the bindings cannot be made', async () => {
    const dir = dirs.make();
    const file = join(dir, 'bad.bindings.ts');
    // Without the config the module cannot be bound: dim and hidden have no defaults.
    expect(await main(['compile', EXAMPLE, '--entry', 'GeluMLP', '--emit-ts', file])).toBe(1);
    expect(err.at(-1)).toMatch(/missing argument 'dim' of module GeluMLP/);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });
});

describe('kiln compile: mistakes', () => {
  it('are usage errors when the command line is wrong (exit 2)', async () => {
    expect(await main(mlp())).toBe(2);
    expect(err.at(-1)).toMatch(/nothing to do: give --shapes NAME=\[\.\.\.\] to compile kernels, or --emit-ts OUT\.ts/);
    expect(await main(mlp('--emit-ts', 'x.js'))).toBe(2);
    expect(err.at(-1)).toMatch(/--emit-ts x\.js must name a \.ts file/);
    expect(await main(mlp('--emit-ts', 'x.ts', '--dump-wgsl', 'd'))).toBe(2);
    expect(err.at(-1)).toMatch(/--dump-wgsl needs --shapes/);
    expect(await main(mlp('--emit-ts', 'x.ts', '--check-shaders'))).toBe(2);
    expect(err.at(-1)).toMatch(/--check-shaders needs --shapes/);
    expect(await main(mlp('--shapes', 'x=2x5x8'))).toBe(2);
    expect(err.at(-1)).toMatch(/--shapes x: "2x5x8" is not a shape; write it like \[1,3,9,32,32\]/);
    expect(await main(mlp('--shapes', 'y=[2,5,8]'))).toBe(2);
    expect(err.at(-1)).toMatch(/--shapes y: GeluMLP\.forward has no parameter y; its parameters are x: f32\[B, L, dim\]/);
    expect(await main(['compile', EXAMPLE, '--entry', 'scaled_gelu', '--arg', 'scale=2', '--shapes', 'scale=[1]'])).toBe(2);
    expect(err.at(-1)).toMatch(/--shapes scale: scale is not a tensor \(float\); give it with --arg scale=VALUE/);
    expect(await main(['compile', EXAMPLE, '--entry', 'scaled_gelu', '--arg', 'scale=2', '--shapes', 'x=[1]', '--set', 'k=1'])).toBe(2);
    expect(await main(['compile', EXAMPLE, '--shapes', 'x=[1]'])).toBe(2);
    expect(err.at(-1)).toMatch(/--entry NAME is required/);
    expect(await main(mlp('--entry', 'GeluMLP.backward', '--shapes', 'x=[1]'))).toBe(2);
    expect(err.at(-1)).toMatch(/module GeluMLP has no function backward; its functions are forward, forward_with_hidden/);
  });

  it('reports a shape the config does not allow (exit 2)', async () => {
    expect(await main(mlp('--shapes', 'x=[2,5,7]'))).toBe(2);
    expect(err.at(-1)).toBe('kiln compile: --shapes x=[2, 5, 7] has 7 on axis 2 but x: f32[B, L, dim] needs 8 there (f32[B, L, 8] with this config)');
  });
});
