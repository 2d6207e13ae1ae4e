// f16 storage (compile's `storage: 'f16'`): which tensors it moves to f16, that the kernels
// really declare, load and store f16 buffers while computing in f32, and the error on a
// device without shader-f16.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile, CompileError } from '../../../compiler/compile.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { resnetBlock } from '../support/graphs.ts';

const F16: Target = { ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true } };

function resnet() {
  const b = new GraphBuilder();
  const x = b.input('x', [1, 8, 3, 6, 8], 'f32');
  return b.graph([{ name: 'y', node: resnetBlock(b, x, { prefix: 'r', cin: 8, cout: 12, groups: 4 }) }]);
}

describe('f16 storage', () => {
  it('stores weights and intermediates as f16; inputs, outputs and reduction results stay f32', () => {
    const p = compile(resnet(), F16, { storage: 'f16', validate: true });
    const reductionOutputs = new Set(p.kernels.filter((k) => k.kind === 'reduction').flatMap((k) => k.bindings.filter((b) => b.access === 'read_write').map((b) => b.tensor)));
    expect(reductionOutputs.size).toBeGreaterThan(0);
    for (const t of p.tensors) {
      const expected = t.role === 'input' || t.role === 'output' || reductionOutputs.has(t.id) ? 'f32' : 'f16';
      expect([t.name, t.dtype]).toEqual([t.name, expected]);
      expect(t.bytes).toBe(Math.max(4, Math.ceil((t.shape.reduce((a, b) => a * b, 1) * (expected === 'f16' ? 2 : 4)) / 4) * 4));
    }
    expect(p.tensors.filter((t) => t.role === 'weight').every((t) => t.dtype === 'f16')).toBe(true);
    expect(p.tensors.some((t) => t.role === 'intermediate' && t.dtype === 'f16')).toBe(true);
  });

  it('kernels declare f16 bindings, widen loads to f32, round stores to f16, and accumulate in f32', () => {
    const p = compile(resnet(), F16, { storage: 'f16' });
    const conv = p.kernels.find((k) => k.kind === 'contraction' && k.bindings.some((b) => p.tensors[b.tensor].role === 'intermediate' && b.access === 'read_write'))!;
    expect(conv.wgsl).toMatch(/^enable f16;$/m);
    const decls = [...conv.wgsl.matchAll(/@binding\((\d+)\) var<storage, (read|read_write)> (b\d+): array<(?:vec4<)?(f16|f32)>?>/g)];
    expect(decls.length).toBe(conv.bindings.length);
    decls.forEach((d, i) => expect(d[4]).toBe(p.tensors[conv.bindings[i].tensor].dtype));
    const out = decls.find((d) => d[2] === 'read_write')!;
    expect(out[4]).toBe('f16');
    expect(conv.wgsl).toMatch(new RegExp(`${out[3]}\\[[^\\]]+\\] = f16\\(`));
    expect(conv.wgsl).toMatch(/var acc_0_0: f32/);
    const f16In = decls.find((d) => d[2] === 'read' && d[4] === 'f16')!;
    expect(conv.wgsl).toMatch(new RegExp(`(f32|vec4<f32>)\\(${f16In[3]}\\[`));
    // The f32 program moves twice the bytes for the same tensors.
    const f32 = compile(resnet(), F16, {});
    expect(p.plan.weightBytes).toBeLessThan(f32.plan.weightBytes * 0.6);
    expect(p.plan.arenaBytes).toBeLessThan(f32.plan.arenaBytes);
  });

  it('with a half interface, stores inputs and outputs as f16 too (each side on its own), and only under f16 storage', () => {
    const dtypes = (opts: Parameters<typeof compile>[2]) => {
      const p = compile(resnet(), F16, opts);
      const of = (role: string) => [...new Set(p.tensors.filter((t) => t.role === role).map((t) => t.dtype))];
      return { input: of('input'), output: of('output') };
    };
    expect(dtypes({ storage: 'f16', halfInterface: { inputs: true, outputs: true } })).toEqual({ input: ['f16'], output: ['f16'] });
    expect(dtypes({ storage: 'f16', halfInterface: { inputs: true } })).toEqual({ input: ['f16'], output: ['f32'] });
    expect(dtypes({ storage: 'f32', halfInterface: { inputs: true, outputs: true } })).toEqual({ input: ['f32'], output: ['f32'] });
  });

  it('is a CompileError naming the fix on a device without shader-f16', () => {
    expect(() => compile(resnet(), DEFAULT_TARGET, { storage: 'f16' })).toThrow(CompileError);
    expect(() => compile(resnet(), DEFAULT_TARGET, { storage: 'f16' })).toThrow(/shader-f16.*--dtype f32/);
  });
});
