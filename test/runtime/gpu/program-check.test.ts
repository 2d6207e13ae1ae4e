/**
 * Program checks against a Target, without a GPU: plan consistency (compiler bugs), device
 * limits (user-fixable, with advice), features, and read -> read_write promotion of bindings
 * that alias a written arena.
 */
import { describe, expect, it } from 'vitest';
import type { CompiledProgram } from '../../../compiler/kernel.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { MissingFeatureError, ProgramError, ResourceLimitError } from '../../../runtime/gpu/errors.ts';
import { checkProgram, promoteBinding } from '../../../runtime/gpu/program-check.ts';
import { after, elementwise, program, programA } from '../programs.ts';

const target: Target = DEFAULT_TARGET; // binding 128 MiB, buffer 256 MiB, 8 storage buffers, alignment 256

function withPlacement(p: CompiledProgram, id: number, arena: number, offset: number): CompiledProgram {
  const placements = new Map(p.plan.placements);
  placements.set(id, { arena, offset });
  return { ...p, plan: { ...p.plan, placements } };
}

describe('checkProgram', () => {
  it('accepts a consistent program and promotes nothing when no arena is both read and written', () => {
    const c = checkProgram(programA(100), target);
    expect(c.kernels.map((k) => k.promoted)).toEqual([[], [], []]);
    expect(c.kernels[0].wgsl).toBe(programA(100).kernels[0].wgsl);
    expect(c.needsF16).toBe(false);
  });

  it('finds plan inconsistencies: missing, out-of-range and misaligned placements', () => {
    const A = programA(100);
    const missing = { ...A, plan: { ...A.plan, placements: new Map([...A.plan.placements].filter(([id]) => id !== 3)) } };
    expect(() => checkProgram(missing, target)).toThrow(ProgramError);
    expect(() => checkProgram(missing, target)).toThrow(/no placement for 'y'/);
    expect(() => checkProgram(withPlacement(A, 3, 5, 0), target)).toThrow(/arena 5, but there are 2 arenas/);
    expect(() => checkProgram(withPlacement(A, 3, 1, 256), target)).toThrow(/offset 256 of arena 1, which has only 512 bytes/);
    expect(() => checkProgram(withPlacement(A, 4, 0, 528), target)).toThrow(/minStorageBufferOffsetAlignment \(256\)/);
  });

  it('finds malformed tensor lists and bindings', () => {
    const A = programA(10);
    expect(() => checkProgram({ ...A, tensors: [...A.tensors, A.tensors[0]] }, target)).toThrow(/tensor id 0 twice/);
    expect(() => checkProgram({ ...A, outputs: [2] }, target)).toThrow(/role is 'intermediate', not 'output'/);
    const badBinding = { ...A, kernels: [{ ...A.kernels[0], bindings: [{ tensor: 42, access: 'read' as const }] }] };
    expect(() => checkProgram(badBinding, target)).toThrow(/binding 0 names tensor id 42/);
    const badBytes = { ...A, tensors: A.tensors.map((t) => (t.id === 0 ? { ...t, bytes: 8 } : t)) };
    expect(() => checkProgram(badBytes, target)).toThrow(/at least 40/);
  });

  it('rejects tensors over the binding and buffer limits with the tensor, its shape and advice', () => {
    const bind = target.limits.maxStorageBufferBindingSize;
    const n = bind / 4 + 1;
    const big = program(
      [
        { id: 0, role: 'input', name: 'x', shape: [4] },
        { id: 1, role: 'output', name: 'decoder.up.0', shape: [1, n], at: { arena: 0, offset: 0 } },
      ],
      [elementwise('k00_big', n, [{ tensor: 0, access: 'read', varName: 'x' }, { tensor: 1, access: 'read_write', varName: 'o' }], 'o[i] = x[0];')],
      [n * 4 + 12],
    );
    let err: unknown;
    try { checkProgram(big, target); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ResourceLimitError);
    const e = err as ResourceLimitError;
    expect(e.limit).toBe('maxStorageBufferBindingSize');
    expect(e.userFacing).toBe(true);
    expect(e.message).toContain(`'decoder.up.0' (output, f32[1, ${n}], 128.0 MiB)`);
    expect(e.message).toContain('kiln vae decode --tile');
    const small = programA(10);
    const huge = { ...small, plan: { ...small.plan, arenas: [target.limits.maxBufferSize + 4, 256] } };
    expect(() => checkProgram(huge, target)).toThrow(/Arena 0 .*maxBufferSize/);
    const tooLong = program(
      [{ id: 0, role: 'input', name: 'x', shape: [target.limits.maxBufferSize / 4 + 1] }, { id: 1, role: 'output', name: 'o', shape: [1], at: { arena: 0, offset: 0 } }],
      [], [256],
    );
    expect(() => checkProgram(tooLong, target)).toThrow(/'x' .*maxBufferSize/);
  });

  it('rejects kernels with too many bindings or too many workgroups', () => {
    const n = 64;
    const specs = Array.from({ length: 9 }, (_, i) => ({ id: i, role: 'input' as const, name: `x${i}`, shape: [n] }));
    const many = program(
      [...specs, { id: 9, role: 'output', name: 'o', shape: [n], at: { arena: 0, offset: 0 } }],
      [elementwise('k00_wide', n, [...specs.map((s) => ({ tensor: s.id, access: 'read' as const, varName: `x${s.id}` })), { tensor: 9, access: 'read_write', varName: 'o' }], 'o[i] = x0[i];')],
      [256],
    );
    expect(() => checkProgram(many, target)).toThrow(/binds 10 storage buffers.*allows 8/);
    const A = programA(64);
    const wide = { ...A, kernels: A.kernels.map((k, i) => (i === 1 ? { ...k, workgroups: [1, 70000, 1] as const } : k)) };
    expect(() => checkProgram(wide, target)).toThrow(/'k01_add' dispatches 70000 workgroups along y/);
  });

  it('needs shader-f16 for f16 tensors or kernels, and subgroups for subgroup kernels', () => {
    const n = 8;
    const h = program(
      [{ id: 0, role: 'input', name: 'h', shape: [n], dtype: 'f16' }, { id: 1, role: 'output', name: 'o', shape: [n], dtype: 'f16', at: { arena: 0, offset: 0 } }],
      [elementwise('k00_h', n, [{ tensor: 0, access: 'read', varName: 'h', type: 'f16' }, { tensor: 1, access: 'read_write', varName: 'o', type: 'f16' }], 'o[i] = h[i];')],
      [256],
    );
    expect(() => checkProgram(h, target)).toThrow(MissingFeatureError);
    expect(() => checkProgram(h, target)).toThrow(/'shader-f16' \(tensor 'h'/);
    expect(checkProgram(h, { ...target, features: { ...target.features, shaderF16: true } }).needsF16).toBe(true);
    const A = programA(8);
    const sg = { ...A, kernels: A.kernels.map((k, i) => (i === 2 ? { ...k, wgsl: `enable subgroups;\n${k.wgsl}` } : k)) };
    expect(() => checkProgram(sg, target)).toThrow(/'k02_square' uses subgroup operations/);
  });

  it('promotes a read binding of an arena the same kernel writes, in the layout and the WGSL', () => {
    const n = 16;
    const p = program(
      [
        { id: 0, role: 'input', name: 'x', shape: [n] },
        { id: 1, role: 'intermediate', name: 't', shape: [n], at: { arena: 0, offset: 0 } },
        { id: 2, role: 'output', name: 'y', shape: [n], at: { arena: 0, offset: after(n) } },
      ],
      [
        elementwise('k00', n, [{ tensor: 0, access: 'read', varName: 'x' }, { tensor: 1, access: 'read_write', varName: 't' }], 't[i] = x[i];'),
        elementwise('k01', n, [{ tensor: 0, access: 'read', varName: 'x' }, { tensor: 1, access: 'read', varName: 't' }, { tensor: 2, access: 'read_write', varName: 'y' }], 'y[i] = t[i] + x[i];'),
      ],
      [after(n) * 2],
    );
    const c = checkProgram(p, target);
    expect(c.kernels[0].promoted).toEqual([]);
    expect(c.kernels[1].promoted).toEqual([1]);
    expect(c.kernels[1].bindings.map((b) => b.access)).toEqual(['read', 'read_write', 'read_write']);
    expect(c.kernels[1].wgsl).toContain('@group(0) @binding(1) var<storage, read_write> t');
    expect(c.kernels[1].wgsl).toContain('@group(0) @binding(0) var<storage, read> x');
  });
});

describe('promoteBinding', () => {
  it('rewrites only the named binding, in either attribute order, with or without an access mode', () => {
    const src = '@group(0) @binding(1) var<storage, read> a: array<f32>;\n@binding(10)  @group(0)\nvar<storage,read> b: array<f32>;\n@binding( 2 ) @group(0) var<storage> c: array<f32>;';
    expect(promoteBinding(src, 1)).toContain('@group(0) @binding(1) var<storage, read_write> a');
    expect(promoteBinding(src, 1)).toContain('var<storage,read> b');
    expect(promoteBinding(src, 10)).toContain('@binding(10)  @group(0)\nvar<storage, read_write> b');
    expect(promoteBinding(src, 2)).toContain('@binding( 2 ) @group(0) var<storage, read_write> c');
    expect(promoteBinding(src, 3)).toBeUndefined();
  });
});
