/**
 * Memory planning: places every intermediate and output tensor in an arena (one GPU buffer)
 * at an offset aligned to minStorageBufferOffsetAlignment, so that tensors alive at the same
 * time never share bytes and dead tensors' space is reused.
 *
 * Vocabulary
 * - Lifetime: [first, last] kernel index that binds the tensor, inclusive (a kernel's inputs
 *   and outputs are alive together, so they never overlap). Outputs live to the end.
 * - Placement: greedy by size, largest first (the usual best heuristic for this offline
 *   problem); each tensor takes the smallest gap among the tensors whose lifetimes overlap
 *   its own (best fit), or the end of the arena. An arena never exceeds maxBufferSize; a
 *   tensor that fits no arena opens a new one.
 */
import type { KernelBinding, MemoryPlan, Placement, TensorInfo } from '../kernel.ts';
import type { Target } from '../target.ts';

interface Placed {
  readonly offset: number;
  readonly bytes: number;
  readonly first: number;
  readonly last: number;
}

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

export function tensorLifetimes(tensors: readonly TensorInfo[], kernels: readonly { readonly bindings: readonly KernelBinding[] }[]): Map<number, [number, number]> {
  const life = new Map<number, [number, number]>();
  kernels.forEach((k, ki) => {
    for (const b of k.bindings) {
      const l = life.get(b.tensor);
      if (l) l[1] = ki; else life.set(b.tensor, [ki, ki]);
    }
  });
  const end = Math.max(0, kernels.length - 1);
  for (const t of tensors) {
    if (t.role !== 'output') continue;
    const l = life.get(t.id) ?? [end, end];
    l[1] = end;
    life.set(t.id, l);
  }
  return life;
}

export function planMemory(tensors: readonly TensorInfo[], kernels: readonly { readonly bindings: readonly KernelBinding[] }[], target: Target): MemoryPlan {
  const align = Math.max(4, target.limits.minStorageBufferOffsetAlignment);
  const maxArena = target.limits.maxBufferSize;
  const life = tensorLifetimes(tensors, kernels);
  const planned = tensors.filter((t) => t.role === 'intermediate' || t.role === 'output');
  const order = [...planned].sort((a, b) => b.bytes - a.bytes || (life.get(a.id)?.[0] ?? 0) - (life.get(b.id)?.[0] ?? 0) || a.id - b.id);
  const arenas: Placed[][] = [];
  const placements = new Map<number, Placement>();
  for (const t of order) {
    const [first, last] = life.get(t.id) ?? [0, 0];
    let best: { arena: number; offset: number; gap: number } | undefined;
    arenas.forEach((placed, ai) => {
      const conflicts = placed.filter((p) => p.first <= last && first <= p.last).sort((a, b) => a.offset - b.offset);
      let prevEnd = 0;
      const consider = (offset: number, gap: number): void => {
        if (offset + t.bytes > maxArena) return;
        if (!best || gap < best.gap) best = { arena: ai, offset, gap };
      };
      for (const c of conflicts) {
        const start = alignUp(prevEnd, align);
        if (c.offset - start >= t.bytes) consider(start, c.offset - start);
        prevEnd = Math.max(prevEnd, c.offset + c.bytes);
      }
      consider(alignUp(prevEnd, align), Infinity);
    });
    if (!best) {
      arenas.push([]);
      best = { arena: arenas.length - 1, offset: 0, gap: Infinity };
    }
    arenas[best.arena].push({ offset: best.offset, bytes: t.bytes, first, last });
    placements.set(t.id, { arena: best.arena, offset: best.offset });
  }
  const arenaSizes = arenas.map((placed) => alignUp(placed.reduce((m, p) => Math.max(m, p.offset + p.bytes), 0), 4));
  const sum = (role: TensorInfo['role']): number => tensors.filter((t) => t.role === role).reduce((a, t) => a + t.bytes, 0);
  const inputBytes = sum('input');
  const weightBytes = sum('weight');
  const arenaBytes = arenaSizes.reduce((a, b) => a + b, 0);
  return { arenas: arenaSizes, placements, peakBytes: inputBytes + weightBytes + arenaBytes, weightBytes, inputBytes, arenaBytes };
}
