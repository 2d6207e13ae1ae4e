/**
 * Memory planning: tensors alive at the same time never share bytes, offsets are aligned,
 * arenas respect maxBufferSize, dead tensors' space is reused, outputs live to the end.
 * Checked on random kernel sequences against a direct overlap check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile } from '../../../compiler/compile.ts';
import type { KernelBinding, MemoryPlan, TensorInfo } from '../../../compiler/kernel.ts';
import { planMemory, tensorLifetimes } from '../../../compiler/passes/plan_memory.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { resnetBlock } from '../support/graphs.ts';

const targetWith = (align: number, maxBuffer: number): Target => ({
  ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, minStorageBufferOffsetAlignment: align, maxBufferSize: maxBuffer },
});

/** Every pair of tensors whose lifetimes overlap must occupy disjoint byte ranges. */
function checkPlan(plan: MemoryPlan, tensors: readonly TensorInfo[], kernels: readonly { bindings: readonly KernelBinding[] }[], target: Target): void {
  const life = tensorLifetimes(tensors, kernels);
  const placed = tensors.filter((t) => t.role === 'intermediate' || t.role === 'output');
  for (const t of placed) {
    const p = plan.placements.get(t.id)!;
    expect(p, `tensor ${t.id} placed`).toBeDefined();
    expect(p.offset % target.limits.minStorageBufferOffsetAlignment).toBe(0);
    expect(p.offset + t.bytes).toBeLessThanOrEqual(plan.arenas[p.arena]);
    expect(plan.arenas[p.arena]).toBeLessThanOrEqual(target.limits.maxBufferSize);
  }
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const [a, b] = [placed[i], placed[j]];
      const [la, lb] = [life.get(a.id)!, life.get(b.id)!];
      const [pa, pb] = [plan.placements.get(a.id)!, plan.placements.get(b.id)!];
      const timeOverlap = la[0] <= lb[1] && lb[0] <= la[1];
      const byteOverlap = pa.arena === pb.arena && pa.offset < pb.offset + b.bytes && pb.offset < pa.offset + a.bytes;
      if (timeOverlap && byteOverlap) throw new Error(`tensors ${a.id} and ${b.id} are alive together but share bytes`);
    }
  }
  const sum = (role: string): number => tensors.filter((t) => t.role === role).reduce((s, t) => s + t.bytes, 0);
  expect(plan.inputBytes).toBe(sum('input'));
  expect(plan.weightBytes).toBe(sum('weight'));
  expect(plan.arenaBytes).toBe(plan.arenas.reduce((s, x) => s + x, 0));
  expect(plan.peakBytes).toBe(plan.inputBytes + plan.weightBytes + plan.arenaBytes);
}

/** Random programs: each kernel writes one new tensor and reads a few earlier ones. */
const programs = fc.array(fc.record({ bytes: fc.integer({ min: 1, max: 300 }).map((n) => n * 4), reads: fc.array(fc.nat(), { maxLength: 3 }), output: fc.boolean() }), { minLength: 1, maxLength: 25 })
  .map((specs) => {
    const tensors: TensorInfo[] = [{ id: 0, role: 'input', name: 'in', shape: [1], dtype: 'f32', bytes: 4 }];
    const kernels: { bindings: KernelBinding[] }[] = [];
    specs.forEach((s) => {
      const id = tensors.length;
      tensors.push({ id, role: s.output ? 'output' : 'intermediate', name: `t${id}`, shape: [s.bytes / 4], dtype: 'f32', bytes: s.bytes });
      const reads = [...new Set(s.reads.map((r) => r % id))];
      kernels.push({ bindings: [...reads.map((r) => ({ tensor: r, access: 'read' as const })), { tensor: id, access: 'read_write' as const }] });
    });
    return { tensors, kernels };
  });

describe('memory planning', () => {
  it('never lets tensors alive together share bytes; aligns offsets; bounds arenas', () => {
    fc.assert(fc.property(programs, fc.constantFrom(4, 16, 256), fc.constantFrom(2048, 1 << 20), ({ tensors, kernels }, align, maxBuffer) => {
      const target = targetWith(align, maxBuffer);
      checkPlan(planMemory(tensors, kernels, target), tensors, kernels, target);
    }), { numRuns: 300 });
  });

  it('reuses the space of dead tensors in a chain', () => {
    // t1 -> t2 -> ... -> t8, each read only by the next kernel: two slots suffice.
    const tensors: TensorInfo[] = [{ id: 0, role: 'input', name: 'x', shape: [256], dtype: 'f32', bytes: 1024 }];
    const kernels: { bindings: KernelBinding[] }[] = [];
    for (let i = 1; i <= 8; i++) {
      tensors.push({ id: i, role: i === 8 ? 'output' : 'intermediate', name: `t${i}`, shape: [256], dtype: 'f32', bytes: 1024 });
      kernels.push({ bindings: [{ tensor: i - 1, access: 'read' }, { tensor: i, access: 'read_write' }] });
    }
    const plan = planMemory(tensors, kernels, targetWith(256, 1 << 20));
    expect(plan.arenaBytes).toBe(2 * 1024);
    checkPlan(plan, tensors, kernels, targetWith(256, 1 << 20));
  });

  it('keeps outputs alive to the end', () => {
    const tensors: TensorInfo[] = [
      { id: 0, role: 'input', name: 'x', shape: [4], dtype: 'f32', bytes: 16 },
      { id: 1, role: 'output', name: 'early', shape: [4], dtype: 'f32', bytes: 16 },
      { id: 2, role: 'intermediate', name: 'mid', shape: [4], dtype: 'f32', bytes: 16 },
      { id: 3, role: 'output', name: 'late', shape: [4], dtype: 'f32', bytes: 16 },
    ];
    const kernels: { bindings: KernelBinding[] }[] = [
      { bindings: [{ tensor: 0, access: 'read' }, { tensor: 1, access: 'read_write' }] },
      { bindings: [{ tensor: 0, access: 'read' }, { tensor: 2, access: 'read_write' }] },
      { bindings: [{ tensor: 2, access: 'read' }, { tensor: 3, access: 'read_write' }] },
    ];
    const plan = planMemory(tensors, kernels, targetWith(16, 1 << 20));
    const offsets = [1, 2, 3].map((id) => plan.placements.get(id)!.offset);
    expect(new Set(offsets).size).toBe(3);
  });

  it('opens another arena when one would exceed maxBufferSize', () => {
    const tensors: TensorInfo[] = [0, 1, 2].map((id) => ({ id, role: 'output' as const, name: `o${id}`, shape: [200], dtype: 'f32' as const, bytes: 800 }));
    const kernels = tensors.map((t) => ({ bindings: [{ tensor: t.id, access: 'read_write' as const }] }));
    const plan = planMemory(tensors, kernels, targetWith(16, 1000));
    expect(plan.arenas.length).toBe(3);
  });

  it('plans a compiled ResNet block consistently', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 3, 6, 5], 'f32');
    const g = b.graph([{ name: 'y', node: resnetBlock(b, x, { prefix: 'blk', cin: 4, cout: 8, groups: 2 }) }]);
    const p = compile(g, DEFAULT_TARGET);
    checkPlan(p.plan, p.tensors, p.kernels, DEFAULT_TARGET);
    for (const t of p.tensors) {
      if (t.role === 'input' || t.role === 'weight') expect(p.plan.placements.has(t.id)).toBe(false);
    }
  });
});
