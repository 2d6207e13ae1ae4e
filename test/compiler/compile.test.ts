/**
 * compile(): user-facing errors for programs that exceed the device (what, where, the limit,
 * the advice), and the program's shape (tensor roles, kernel names and headers).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { CompileError, compile } from '../../compiler/compile.ts';
import { dumpWgsl, formatProgram } from '../../compiler/dump.ts';
import { DEFAULT_TARGET } from '../../compiler/target.ts';
import { isUserError } from '../../cli/errors.ts';
import { attention, resnetBlock } from './support/graphs.ts';

function bigConv(): ReturnType<GraphBuilder['graph']> {
  const b = new GraphBuilder();
  const x = b.input('z', [1, 16, 17, 64, 64], 'f32');
  const w = b.input('decoder.conv_in.conv.weight', [512, 16, 3, 3, 3], 'f32', 'weight');
  const y = b.withOrigin({ op: 'conv', path: 'decoder.conv_in', loc: 'vae.kiln:40:5' }, () =>
    b.conv(b.pad(x, [[0, 0], [0, 0], [2, 0], [1, 1], [1, 1]], 'replicate'), w, [1, 1, 1]));
  return b.graph([{ name: 'h', node: b.unary('exp', y) }]);
}

describe('compile errors', () => {
  it('reports a tensor larger than the binding limit with its origin, shape, size, the limit and advice', () => {
    let err: unknown;
    try {
      compile(bigConv(), DEFAULT_TARGET, { name: 'vae decode' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompileError);
    expect(isUserError(err)).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain('vae decode');
    expect(msg).toContain('decoder.conv_in');
    expect(msg).toContain('vae.kiln:40:5');
    expect(msg).toContain('[1, 512, 17, 64, 64]');
    expect(msg).toContain('142,606,336 bytes');
    expect(msg).toContain('134,217,728');
    expect(msg).toContain('kiln vae decode --tile');
  });

  it('suggests f16 storage for an intermediate too large in f32 when half would fit and the device has shader-f16', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [8192, 2048], 'f32');
    const w = b.input('w', [2048, 4352], 'f32', 'weight');
    const g = b.graph([{ name: 'y', node: b.reduce('sum', b.matmul(x, w), [1]) }]);
    const message = (target: typeof DEFAULT_TARGET, graph = g): string => {
      try {
        compile(graph, target);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    const f16 = { ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true } };
    // [8192, 4352] is 142,606,336 bytes in f32 against 134,217,728; 68 MiB in f16 fits.
    expect(message(f16)).toMatch(/^the result of .* \(intermediate .*\) needs a tensor of shape \[8192, 4352\] \(f32\), 142,606,336 bytes/);
    expect(message(f16)).toContain('Stored as f16 (`--dtype f16`) it would take 68.0 MiB, which fits; or: use smaller inputs');
    expect(message(DEFAULT_TARGET)).not.toContain('--dtype f16');
    // An output stays f32 whatever the storage: no such advice.
    expect(message(f16, bigConv())).not.toContain('--dtype f16');
  });

  it('names a weight too large to bind by its key, and says how to fit it (f16 storage where the device has it)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 4096], 'f32');
    const w = b.input('blocks.0.mlp.fc1.weight', [9216, 4096], 'f32', 'weight');
    const g = b.graph([{ name: 'y', node: b.matmul(x, b.permute(w, [1, 0])) }]);
    const messageFor = (target: typeof DEFAULT_TARGET): string => {
      try {
        compile(g, target);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    const plain = messageFor(DEFAULT_TARGET);
    expect(plain).toMatch(/^weight "blocks\.0\.mlp\.fc1\.weight" needs a tensor of shape \[9216, 4096\] \(f32\), 150,994,944 bytes/);
    expect(plain).toContain('A weight is bound whole');
    expect(plain).not.toContain('vae decode');
    expect(plain).not.toContain('--dtype f16');
    expect(messageFor({ ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true } })).toContain('store the weights as f16 (`--dtype f16`');
  });

  it('accepts the same program on a device with larger buffers', () => {
    const big = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 32 } };
    expect(() => compile(bigConv(), big)).not.toThrow();
  });

  it('compiles attention whose L × L scores would have 2^32 elements or more: the flash kernel never stores them', () => {
    const b = new GraphBuilder();
    const l = 65_600; // l² > 2^32
    const [q, k, v] = ['q', 'k', 'v'].map((n) => b.input(n, [1, l, 4], 'f32'));
    const keep = b.binary('lt', b.iota([l], 0), b.const(l - 7, [l], 'i32'));
    const mask = b.expand(b.reshape(keep, [1, l]), [l, l]);
    const program = compile(b.graph([{ name: 'o', node: attention(b, q, k, v, mask) }]), DEFAULT_TARGET);
    expect(program.kernels.map((x) => x.kind)).toEqual(['attention']);
  });

  it('rejects tensors with 2^32 elements or more (32-bit indexing)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1], 'f32');
    const huge = b.expand(b.reshape(x, [1, 1]), [65536, 65536]);
    const big = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 } };
    expect(() => compile(b.graph([{ name: 'y', node: b.reduce('sum', huge, [0, 1]) }]), big)).toThrow(/fewer than 2\^32 elements/);
  });
});

describe('compiled programs', () => {
  it('lists inputs in call order, then weights, and outputs in graph order', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 2, 3, 3], 'f32');
    const g = b.graph([{ name: 'y', node: resnetBlock(b, x, { prefix: 'blk', cin: 4, cout: 4, groups: 2 }) }, { name: 'x_again', node: x }]);
    const p = compile(g, DEFAULT_TARGET);
    expect(p.inputs.map((id) => p.tensors[id].name)).toEqual(['x']);
    expect(p.weights.map((id) => p.tensors[id].role)).toEqual(p.weights.map(() => 'weight'));
    expect(p.outputs.map((id) => p.tensors[id].name)).toEqual(['y', 'x_again']);
    for (const [i, k] of p.kernels.entries()) {
      expect(k.name.startsWith(`k${String(i).padStart(2, '0')}_`)).toBe(true);
      expect(k.wgsl.startsWith(`// Kiln kernel ${k.name}`)).toBe(true);
      for (const op of k.sourceOps) expect(k.wgsl).toContain(`//   ${op}`);
      k.bindings.forEach((bd, j) => expect(k.wgsl).toContain(`@binding(${j}) var<storage, ${bd.access}>`));
    }
  });

  it('dumps one WGSL file per kernel and an index', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 2, 3, 3], 'f32');
    const p = compile(b.graph([{ name: 'y', node: resnetBlock(b, x, { prefix: 'blk', cin: 4, cout: 4, groups: 2 }) }]), DEFAULT_TARGET);
    const dir = await mkdtemp(join(tmpdir(), 'kiln-dump-'));
    try {
      await dumpWgsl(p, join(dir, 'out'));
      const files = (await readdir(join(dir, 'out'))).sort();
      expect(files).toEqual([...p.kernels.map((k, i) => `${String(i).padStart(2, '0')}_${k.name.replace(/^k\d+_/, '')}.wgsl`), 'index.txt'].sort());
      expect(await readFile(join(dir, 'out', files[0]), 'utf8')).toBe(p.kernels[0].wgsl);
      const index = await readFile(join(dir, 'out', 'index.txt'), 'utf8');
      expect(index).toBe(formatProgram(p));
      expect(index).toContain('"x" f32[1, 4, 2, 3, 3]');
      expect(index).toContain('memory plan: peak');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('f16 programs', () => {
  it('need the shader-f16 feature', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [4], 'f16');
    const g = b.graph([{ name: 'y', node: b.unary('exp', x) }]);
    expect(() => compile(g, DEFAULT_TARGET)).toThrow(/shader-f16/);
    const withF16 = { ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true } };
    expect(compile(g, withF16).kernels[0].wgsl).toContain('enable f16;');
  });
});
