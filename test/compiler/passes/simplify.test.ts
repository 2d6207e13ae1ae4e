/**
 * simplify: each rule's result has the expected structure, and every simplified graph
 * computes the same values as the original (reference interpreter on random inputs).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Graph, Node } from '../../../compiler/ir.ts';
import { topoSort } from '../../../compiler/ir.ts';
import { simplifyPass, splitWideConcatsPass } from '../../../compiler/passes/simplify.ts';
import { validateGraph } from '../../../compiler/passes/validate.ts';
import { interpret } from '../../../compiler/reference/interpret.ts';
import { DEFAULT_TARGET } from '../../../compiler/target.ts';
import { randomInputs, rng } from '../support/gpu.ts';

const ctx = { target: DEFAULT_TARGET, fuse: true, validate: true };
const simplify = (g: Graph): Graph => {
  const s = simplifyPass.run(g, ctx);
  validateGraph(s, 'after simplify');
  return s;
};
const nodes = (g: Graph): Node[] => topoSort(g.outputs.map((o) => o.node));
const ops = (g: Graph): string[] => nodes(g).map((n) => n.op);

function expectSameValues(a: Graph, b: Graph, seed = 1): void {
  const values = randomInputs(a, rng(seed));
  const ra = interpret(a, values);
  const rb = interpret(b, values);
  for (const o of a.outputs) expect([...rb.get(o.name)!]).toEqual([...ra.get(o.name)!]);
}

describe('simplify', () => {
  it('folds permute chains (to nothing when they cancel)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3, 4], 'f32');
    const g = b.graph([
      { name: 'p', node: b.permute(b.permute(x, [2, 0, 1]), [0, 2, 1]) },
      { name: 'id', node: b.unary('exp', b.permute(b.permute(x, [2, 0, 1]), [1, 2, 0])) },
    ]);
    const s = simplify(g);
    expect(ops(s).filter((o) => o === 'permute').length).toBe(1);
    expect(s.outputs[1].node.src[0]).toBe(s.inputs[0]);
    expectSameValues(g, s);
  });

  it('folds slice chains into one slice', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [20, 9], 'f32');
    const g = b.graph([{ name: 's', node: b.slice(b.slice(x, [1, 2], [9, 3], [2, 2]), [2, 1], [3, 2], [3, 1]) }]);
    const s = simplify(g);
    expect(ops(s)).toEqual(['input', 'slice']);
    expectSameValues(g, s);
  });

  it('folds expand chains and views of constants', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 1, 3], 'f32');
    const c = b.const(2.5, [1, 3]);
    const g = b.graph([
      { name: 'e', node: b.expand(b.expand(x, [1, 4, 3]), [5, 4, 3]) },
      { name: 'c', node: b.permute(b.pad(b.repeat(c, [2, 1]), [[1, 1], [0, 2]], 'replicate'), [1, 0]) },
    ]);
    const s = simplify(g);
    expect(ops(s).filter((o) => o === 'expand').length).toBe(1);
    expect(s.outputs[1].node.op).toBe('const');
    expectSameValues(g, s);
  });

  it('folds elementwise ops on constants with the interpreter\'s semantics', () => {
    const b = new GraphBuilder();
    const i = (v: number): Node => b.const(v, [2], 'i32');
    const f = (v: number): Node => b.const(v, [2]);
    const g = b.graph([
      { name: 'div', node: b.binary('div', i(-7), i(2)) },
      { name: 'mod', node: b.binary('mod', i(-7), i(2)) },
      { name: 'lt', node: b.binary('lt', f(1), f(2)) },
      { name: 'exp', node: b.unary('exp', f(1)) },
      { name: 'cast', node: b.cast(f(-2.7), 'i32') },
    ]);
    const s = simplify(g);
    expect(s.outputs.map((o) => (o.node.op === 'const' ? o.node.value : NaN))).toEqual([-4, 1, 1, Math.exp(1), -2]);
    expectSameValues(g, s);
  });

  it('drops x*1, 1*x, x/1, x+0, 0+x, x-0, neg(neg(x)) and where on a constant condition', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [3], 'f32');
    const one = b.const(1, [3]);
    const zero = b.const(0, [3]);
    const exprs = [
      b.binary('mul', x, one), b.binary('mul', one, x), b.binary('div', x, one), b.binary('add', x, zero),
      b.binary('add', zero, x), b.binary('sub', x, zero), b.unary('neg', b.unary('neg', x)),
      b.where(b.const(1, [3], 'bool'), x, zero),
    ];
    const g = b.graph(exprs.map((node, k) => ({ name: `e${k}`, node })));
    const s = simplify(g);
    for (const o of s.outputs) expect(o.node).toBe(s.inputs[0]);
  });

  it('keeps every input in order (unused ones too) and the nodes\' origins', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2], 'f32');
    b.input('unused', [3], 'f32');
    b.input('w', [2], 'f32', 'weight');
    const y = b.withOrigin({ op: 'silu', path: 'blk.act', loc: 'm.kiln:3:7' }, () => b.unary('exp', x));
    const s = simplify(b.graph([{ name: 'y', node: y }]));
    expect(s.inputs.map((n) => n.name)).toEqual(['x', 'unused', 'w']);
    expect(s.outputs[0].node.origin).toEqual({ op: 'silu', path: 'blk.act', loc: 'm.kiln:3:7' });
  });

  it('preserves values on random view and constant chains', () => {
    const step = fc.constantFrom('permute', 'slice', 'expand', 'mul1', 'add0', 'negneg', 'pad');
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 1000 }), (steps, seed) => {
      const b = new GraphBuilder();
      let v: Node = b.input('x', [3, 1, 4], 'f32');
      for (const st of steps) {
        const s = v.shape;
        switch (st) {
          case 'permute': v = b.permute(v, [2, 0, 1]); break;
          case 'slice': v = b.slice(v, s.map(() => 0), s.map((d) => Math.max(1, d - 1))); break;
          case 'expand': v = b.expand(v, s.map((d) => (d === 1 ? 2 : d))); break;
          case 'mul1': v = b.binary('mul', v, b.const(1, s)); break;
          case 'add0': v = b.binary('add', b.const(0, s), v); break;
          case 'negneg': v = b.unary('neg', b.unary('neg', v)); break;
          case 'pad': v = b.pad(v, s.map(() => [1, 0] as const), 'constant', -1); break;
        }
      }
      const g = b.graph([{ name: 'y', node: v }]);
      expectSameValues(g, simplify(g), seed);
    }), { numRuns: 100 });
  });

  it('splits a concat of more parts than a kernel can bind into a tree', () => {
    const b = new GraphBuilder();
    const parts = Array.from({ length: 13 }, (_, k) => b.input(`p${k}`, [1, 2], 'f32'));
    const g = b.graph([{ name: 'c', node: b.concat(parts, 0) }]);
    const s = splitWideConcatsPass.run(g, ctx);
    for (const n of nodes(s)) if (n.op === 'concat') expect(n.src.length).toBeLessThanOrEqual(6);
    expectSameValues(g, s);
  });
});
