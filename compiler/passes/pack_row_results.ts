/**
 * Packing a row chain's results: GroupNorm's statistics kernel writes the mean and the rstd
 * of every (sample, group); the convolution that normalises its input on the fly then binds
 * both, next to the input, the weight, the bias, gamma, beta, a residual and its output —
 * nine storage buffers, one over WebGPU's guaranteed eight, which would force part of the
 * prologue out into its own elementwise kernel. Stored interleaved in one tensor
 * ([mean, rstd] per row), they take one binding.
 *
 * Packed: the ends of one reduction group of the same shape and dtype that are not graph
 * outputs (those are read back by name), not aliased, and read only by elementwise and view
 * nodes (so every reader goes through the value emitter, which knows the layout; no kernel
 * binds them as a raw operand, as the subgroup-matrix matmul would). Per-row results are small, so the strided loads cost
 * nothing that matters.
 */
import { type Node, OP_CATEGORY } from '../ir.ts';
import type { SchedulePass } from './pass.ts';
import { type Pack, isElementwise } from './schedule.ts';

export const packRowResultsPass: SchedulePass = {
  name: 'pack row results',
  run(s) {
    const outputs = new Set(s.graph.outputs.map((o) => o.node.id));
    const aliased = new Set([...s.aliases].flat());
    const readThroughExpressions = (n: Node): boolean => (s.users.get(n.id) ?? []).every((u) => isElementwise(u) || OP_CATEGORY[u.op] === 'view');
    const packs = new Map<number, Pack>();
    for (const g of s.groups) {
      if (g.kind !== 'reduction' || g.chain.length < 2) continue;
      const ends = g.chain.map((e) => e.end).filter((n) => !outputs.has(n.id) && !aliased.has(n.id) && readThroughExpressions(n));
      const byKind = new Map<string, Node[]>();
      for (const n of ends) {
        const k = `${n.dtype}|${n.shape.join('x')}`;
        byKind.set(k, [...(byKind.get(k) ?? []), n]);
      }
      for (const members of byKind.values()) {
        if (members.length < 2) continue;
        members.forEach((n, slot) => packs.set(n.id, { head: members[0].id, slot, slots: members.length }));
      }
    }
    return { ...s, packs };
  },
};
