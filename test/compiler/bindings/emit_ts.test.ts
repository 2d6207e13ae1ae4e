/**
 * Typed bindings for a VAE block (ResnetBlockCausal3D): emitted with emitBindings, then three
 * small programs using them are type-checked with the TypeScript compiler API — one correct,
 * one with a wrong input name, one with a wrong dtype — and the correct one is run on the
 * interpreter and compared with a direct ModelSession call.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { emitBindings, DEFAULT_RUNTIME_FILE } from '../../../compiler/bindings/emit_ts.ts';
import { resolveEntry } from '../../../compiler/bindings/entry.ts';
import { loadProgram } from '../../../dsl/program.ts';
import { ModelSession, weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BLOCKS = join(ROOT, 'models/hunyuan_vae/blocks.kiln');
const CONFIG = { in_channels: 4, out_channels: 8, groups: 2 };
const X_SHAPE = [1, 4, 3, 5, 6];

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

/** Deterministic values in [-1, 1) (a linear congruential generator), independent of Kiln. */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** The block's weights, built from the key and shape list written out by hand for this config. */
function blockWeights(): Map<string, HostTensor> {
  const shapes: [string, number[]][] = [
    ['norm1.weight', [4]], ['norm1.bias', [4]],
    ['conv1.conv.weight', [8, 4, 3, 3, 3]], ['conv1.conv.bias', [8]],
    ['norm2.weight', [8]], ['norm2.bias', [8]],
    ['conv2.conv.weight', [8, 8, 3, 3, 3]], ['conv2.conv.bias', [8]],
    ['conv_shortcut.conv.weight', [8, 4, 1, 1, 1]], ['conv_shortcut.conv.bias', [8]],
  ];
  return new Map(shapes.map(([k, shape], i) => [k, { dtype: 'F32', shape, data: seeded(shape.reduce((a, b) => a * b, 1), 10 + i) } as HostTensor]));
}

/** A program calling the bindings with `inputs`; the correct one also checks the output's shape type. */
const usage = (runtime: string, inputs: string, shapeChecks: boolean) => `
import { load, type WeightKey } from './resnet.bindings.ts';
import { tensor, type HostTensor } from '${runtime}';

export async function runBlock(weights: ReadonlyMap<WeightKey, HostTensor>, x: Float32Array) {
  const block = await load(weights, { backend: 'interp' });
  try {
    const { out } = await block.forward(${inputs});
${shapeChecks ? `    // The output's shape type follows from the input's: B, T, H, W flow through, out_channels is 8.
    const frames: 3 = out.shape[2];
    const channels: 8 = out.shape[1];
    return { out, frames, channels };` : '    return { out };'}
  } finally {
    await block.release();
  }
}
`;

let dir: string;
let bindingsText: string;
const files: Record<'ok' | 'wrongName' | 'wrongDtype', string> = { ok: '', wrongName: '', wrongDtype: '' };

beforeAll(() => {
  dir = dirs.make();
  // ESM, as the project: the bindings use import.meta.url.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const program = loadProgram([BLOCKS]);
  const entry = resolveEntry(program, 'ResnetBlockCausal3D');
  const bound = bindModule(entry.program, entry.moduleName, CONFIG);
  const outFile = join(dir, 'resnet.bindings.ts');
  bindingsText = emitBindings({ entry, config: CONFIG, instance: bound.instance, weights: bound.weights, sources: [BLOCKS], outFile }).text;
  writeFileSync(outFile, bindingsText);
  let runtime = relative(dir, DEFAULT_RUNTIME_FILE);
  if (!runtime.startsWith('.')) runtime = `./${runtime}`;
  const write = (name: string, inputs: string, shapeChecks = false) => {
    const path = join(dir, name);
    writeFileSync(path, usage(runtime, inputs, shapeChecks));
    return path;
  };
  files.ok = write('ok.ts', `{ x: tensor('f32', [${X_SHAPE}], x) }`, true);
  files.wrongName = write('wrong_name.ts', `{ input: tensor('f32', [${X_SHAPE}], x) }`);
  files.wrongDtype = write('wrong_dtype.ts', `{ x: tensor('i32', [${X_SHAPE}], x) }`);
});

describe('emitted bindings for ResnetBlockCausal3D', () => {
  it('declares the config, the weight keys and shape tuples with the config filled in', () => {
    expect(bindingsText).toContain('export interface Config {');
    expect(bindingsText).toMatch(/readonly in_channels: number;/);
    expect(bindingsText).toMatch(/readonly groups\?: number;/);
    // Ten keys, with the shortcut conv because in_channels != out_channels.
    const keys = /export type WeightKey = (.*);/.exec(bindingsText)![1].split(' | ');
    expect(keys).toEqual([...blockWeights().keys()].map((k) => JSON.stringify(k)));
    expect(bindingsText).toContain('export interface ForwardInputs<B extends number = number, T extends number = number, H extends number = number, W extends number = number> {');
    expect(bindingsText).toContain('readonly x: kiln.Tensor<"f32", readonly [B, 4, T, H, W]>;');
    expect(bindingsText).toContain('readonly out: kiln.Tensor<"f32", readonly [B, 8, T, H, W]>;');
    expect(bindingsText).toContain('export async function load(weights: kiln.Weights<WeightKey>, opts: kiln.LoadOptions = {}): Promise<ResnetBlockCausal3D>');
  });

  it('type-checks a correct use, and reports a wrong input name and a wrong dtype', () => {
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
    };
    const program = ts.createProgram([files.ok, files.wrongName, files.wrongDtype], options);
    const diagnostics = (file: string) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ({
      code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, '\n'), file: d.file?.fileName,
    }));
    // The bindings themselves must type-check too.
    expect(diagnostics(join(dir, 'resnet.bindings.ts'))).toEqual([]);
    expect(diagnostics(files.ok)).toEqual([]);

    const name = diagnostics(files.wrongName);
    expect(name).toHaveLength(1);
    // TS2353: an object literal's excess property.
    expect(name[0].code).toBe(2353);
    expect(name[0].message).toContain("'input' does not exist in type 'ForwardInputs<");

    const dtype = diagnostics(files.wrongDtype);
    expect(dtype).toHaveLength(1);
    // TS2322: not assignable; the dtype literal is what differs.
    expect(dtype[0].code).toBe(2322);
    expect(dtype[0].message).toContain(`Type 'Tensor<"i32", readonly [${X_SHAPE.join(', ')}]>' is not assignable to type 'Tensor<"f32"`);
    expect(dtype[0].message).toContain(`Type '"i32"' is not assignable to type '"f32"'`);
  });

  it('runs the correct program on the interpreter, matching a direct ModelSession call', async () => {
    const weights = blockWeights();
    const x = seeded(X_SHAPE.reduce((a, b) => a * b, 1), 99);
    const mod = (await import(pathToFileURL(files.ok).href)) as { runBlock(w: ReadonlyMap<string, HostTensor>, x: Float32Array): Promise<{ out: { dtype: string; shape: number[]; data: Float32Array }; frames: number; channels: number }> };
    const got = await mod.runBlock(weights, x);
    expect(got.out.dtype).toBe('f32');
    expect(got.out.shape).toEqual([1, 8, 3, 5, 6]);
    expect(got.out.data).toBeInstanceOf(Float32Array);

    const session = new ModelSession(loadProgram([BLOCKS]), 'ResnetBlockCausal3D', CONFIG, weightsFromMap(weights), { backend: 'interp' });
    const direct = await session.call('forward', [{ dtype: 'F32', shape: X_SHAPE, data: x }]);
    const want = Float32Array.from(toFloat64(direct.outputs.out));
    expect(Array.from(got.out.data)).toEqual(Array.from(want));
  });
});
