/**
 * Graph rewriting through a fresh GraphBuilder (the only way to make nodes): every node is
 * rebuilt bottom-up from its rewritten operands under its original Origin, so a rewrite rule
 * only says what one node becomes, and hash-consing merges whatever becomes equal.
 */
import { GraphBuilder } from '../builder.ts';
import type { Graph, Node } from '../ir.ts';
import { topoSort } from '../ir.ts';

/** What a rule returns: a replacement node, or undefined to keep (rebuild) the node. */
export type RewriteRule = (b: GraphBuilder, n: Node, src: readonly Node[]) => Node | undefined;

/** The same op as `n` over new operands. */
export function rebuildNode(b: GraphBuilder, n: Node, s: readonly Node[]): Node {
  switch (n.op) {
    case 'input': return b.input(n.name, n.shape, n.dtype, n.kind);
    case 'const': return b.const(n.value, n.shape, n.dtype);
    case 'iota': return b.iota(n.shape, n.axis);
    case 'random': return b.random(n.shape, n.dist, n.seed, n.dtype);
    case 'unary': return b.unary(n.fn, s[0]);
    case 'binary': return b.binary(n.fn, s[0], s[1]);
    case 'where': return b.where(s[0], s[1], s[2]);
    case 'cast': return b.cast(s[0], n.dtype);
    case 'reduce': return b.reduce(n.fn, s[0], n.axes);
    case 'reshape': return b.reshape(s[0], n.shape);
    case 'permute': return b.permute(s[0], n.perm);
    case 'expand': return b.expand(s[0], n.shape);
    case 'slice': return b.slice(s[0], n.start, n.shape, n.step);
    case 'pad': return b.pad(s[0], n.pads, n.mode, n.value);
    case 'concat': return b.concat(s, n.axis);
    case 'repeat': return b.repeat(s[0], n.factors);
    case 'gather': return b.gather(s[0], s[1]);
    case 'matmul': return b.matmul(s[0], s[1]);
    case 'conv': return b.conv(s[0], s[1], n.stride);
  }
}

/** Rebuild `g`, applying `rules` in order to each node over its rewritten operands (first match wins). */
export function rewriteGraph(g: Graph, rules: readonly RewriteRule[]): Graph {
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  // Declare every input first, in order, so call order and unused inputs survive.
  for (const i of g.inputs) map.set(i.id, b.withOrigin(i.origin, () => b.input(i.name, i.shape, i.dtype, i.kind)));
  for (const n of topoSort(g.outputs.map((o) => o.node))) {
    if (map.has(n.id)) continue;
    const src = n.src.map((s) => map.get(s.id)!);
    const out = b.withOrigin(n.origin, () => {
      for (const rule of rules) {
        const r = rule(b, n, src);
        if (r !== undefined) return r;
      }
      return rebuildNode(b, n, src);
    });
    map.set(n.id, out);
  }
  return b.graph(g.outputs.map((o) => ({ name: o.name, node: map.get(o.node.id)! })));
}
