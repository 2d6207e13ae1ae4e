/**
 * Validators run between passes (in tests, and with `compile(..., { validate: true })`).
 * A failure is a compiler bug, never a user error, so they throw plain Errors naming the
 * stage and the offending node or group.
 *
 * - Graph: every node's shape and dtype follow from its operands and attributes (the rules of
 *   compiler/ir.ts), ids are unique, inputs are declared.
 * - Schedule: own node sets are disjoint, every materialised node has exactly one producer (or
 *   is an input, or an alias), groups only inline what may be inlined, every group runs after
 *   the producers of what it reads, and every graph output is produced.
 */
import type { Graph, Node } from '../ir.ts';
import { COMPARISONS, describeNode, numel, topoSort } from '../ir.ts';
import { type Schedule, groupLeaves, groupOutputs, ownNodes } from './schedule.ts';

function fail(where: string, msg: string): never {
  throw new Error(`IR validation failed ${where}: ${msg}`);
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function expectedShape(n: Node): readonly number[] | undefined {
  const s0 = n.src[0]?.shape;
  switch (n.op) {
    case 'input': case 'const': case 'iota': case 'random': return undefined;
    case 'unary': case 'cast': return s0;
    case 'binary': return same(n.src[0].shape, n.src[1].shape) ? s0 : [-1];
    case 'where': return same(n.src[1].shape, n.src[2].shape) && same(n.src[0].shape, s0) ? n.src[1].shape : [-1];
    case 'reduce': return s0.map((d, i) => (n.axes.includes(i) ? 1 : d));
    case 'reshape': return numel(s0) === numel(n.shape) ? n.shape : [-1];
    case 'permute': return n.perm.map((p) => s0[p]);
    case 'expand': return s0.every((d, i) => d === 1 || d === n.shape[i]) && s0.length === n.shape.length ? n.shape : [-1];
    case 'slice': return s0.every((d, i) => n.shape[i] === 0 || n.start[i] + (n.shape[i] - 1) * n.step[i] < d) ? n.shape : [-1];
    case 'pad': return s0.map((d, i) => d + n.pads[i][0] + n.pads[i][1]);
    case 'concat': {
      const out = [...s0];
      out[n.axis] = n.src.reduce((a, s) => a + s.shape[n.axis], 0);
      return out;
    }
    case 'repeat': return s0.map((d, i) => d * n.factors[i]);
    case 'gather': return s0.length >= 1 && n.src[1].dtype === 'i32' ? [...n.src[1].shape, ...s0.slice(1)] : [-1];
    case 'matmul': {
      const r = s0.length;
      return [...s0.slice(0, r - 1), n.src[1].shape[r - 1]];
    }
    case 'conv': {
      const w = n.src[1].shape;
      return [s0[0], w[0], ...s0.slice(2).map((s, i) => Math.floor((s - w[2 + i]) / n.stride[i]) + 1)];
    }
  }
}

function expectedDtype(n: Node): string | undefined {
  switch (n.op) {
    case 'binary': return COMPARISONS.has(n.fn) ? 'bool' : n.src[0].dtype;
    case 'unary': case 'reduce': case 'reshape': case 'permute': case 'expand': case 'slice': case 'pad':
    case 'concat': case 'repeat': case 'gather': case 'matmul': case 'conv':
      return n.src[0].dtype;
    case 'where': return n.src[1].dtype;
    default: return undefined;
  }
}

export function validateGraph(g: Graph, where: string): void {
  const declared = new Set(g.inputs.map((i) => i.id));
  const seen = new Map<number, Node>();
  for (const n of topoSort(g.outputs.map((o) => o.node))) {
    const prev = seen.get(n.id);
    if (prev && prev !== n) fail(where, `two nodes share id %${n.id}`);
    seen.set(n.id, n);
    if (n.op === 'input' && !declared.has(n.id)) fail(where, `input ${JSON.stringify(n.name)} is not among the graph inputs`);
    const shape = expectedShape(n);
    if (shape && !same(shape, n.shape)) fail(where, `shape of ${describeNode(n)} does not follow from its operands`);
    const dt = expectedDtype(n);
    if (dt && dt !== n.dtype) fail(where, `dtype of ${describeNode(n)} should be ${dt}`);
  }
}

export function validateSchedule(s: Schedule, where: string): void {
  const ownerOf = new Map<number, number>();
  s.groups.forEach((g, gi) => {
    for (const n of ownNodes(g)) {
      if (ownerOf.has(n.id)) fail(where, `%${n.id} is computed by groups ${ownerOf.get(n.id)} and ${gi}`);
      ownerOf.set(n.id, gi);
    }
  });
  const producedAt = new Map<number, number>();
  s.groups.forEach((g, gi) => {
    for (const n of groupOutputs(g)) {
      if (!s.materialised.has(n.id)) fail(where, `group ${gi} writes %${n.id}, which is not materialised`);
      if (producedAt.has(n.id)) fail(where, `%${n.id} is written by groups ${producedAt.get(n.id)} and ${gi}`);
      producedAt.set(n.id, gi);
    }
  });
  for (const [alias, target] of s.aliases) {
    if (!s.materialised.has(alias) || !s.materialised.has(target)) fail(where, `alias %${alias} -> %${target} of a node that is not materialised`);
    if (producedAt.has(alias)) fail(where, `aliased %${alias} is also written by a group`);
  }
  for (const n of s.order) {
    if (!s.materialised.has(n.id) || n.op === 'input') continue;
    const target = s.aliases.get(n.id) ?? n.id;
    if (!producedAt.has(target)) fail(where, `materialised ${describeNode(n)} has no producer`);
  }
  s.groups.forEach((g, gi) => {
    let leaves: Set<Node>;
    try {
      leaves = groupLeaves(g, s.materialised);
    } catch (e) {
      fail(where, `group ${gi}: ${(e as Error).message}`);
    }
    for (const l of leaves) {
      if (l.op === 'input') continue;
      const p = producedAt.get(s.aliases.get(l.id) ?? l.id);
      if (p === gi && g.kind === 'reduction') continue; // a row chain's earlier result, from registers
      if (p === undefined || p >= gi) fail(where, `group ${gi} reads %${l.id} before it is produced (by group ${p})`);
    }
  });
  s.graph.outputs.forEach((o, k) => {
    const copied = s.groups.some((g) => g.kind === 'elementwise' && g.outputIndex === k);
    if (!copied && !s.materialised.has(o.node.id)) fail(where, `output ${JSON.stringify(o.name)} is neither materialised nor copied`);
  });
}
