import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node } from '../../../compiler/ir.ts';
import { evaluate, interpret, InterpreterInputError } from '../../../compiler/reference/interpret.ts';
import { isUserError } from '../../../cli/errors.ts';
import { expectValues } from './helpers.ts';

function smallGraph() {
  const g = new GraphBuilder();
  const x = g.input('x', [2, 2], 'f32');
  const w = g.input('layer.weight', [2, 2], 'f32', 'weight');
  const y = g.matmul(x, w);
  const s = g.reduce('sum', y, [1]);
  return { g, x, w, y, s, graph: g.graph([{ name: 'y', node: y }, { name: 's', node: s }]) };
}

describe('interpret', () => {
  it('returns every output by name, inputs and weights looked up by name', () => {
    const { graph } = smallGraph();
    const out = interpret(graph, { x: [1, 2, 3, 4], 'layer.weight': [1, 0, 0, 2] });
    expect([...out.keys()]).toEqual(['y', 's']);
    expectValues(out.get('y') as Float64Array, [1, 4, 3, 8]);
    expectValues(out.get('s') as Float64Array, [5, 11]);
  });

  it('accepts a Map of Float64Arrays as well as a record of plain arrays', () => {
    const { graph } = smallGraph();
    const out = interpret(graph, new Map([['x', Float64Array.of(1, 1, 1, 1)], ['layer.weight', Float64Array.of(1, 2, 3, 4)]]));
    expectValues(out.get('y') as Float64Array, [4, 6, 4, 6]);
  });

  it('a missing input is a user-facing error naming the input and its expected shape', () => {
    const { graph } = smallGraph();
    let err: unknown;
    try { interpret(graph, { x: [1, 2, 3, 4] }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(InterpreterInputError);
    expect(isUserError(err)).toBe(true);
    expect((err as Error).message).toContain('"layer.weight"');
    expect((err as Error).message).toContain('f32[2, 2]');
  });

  it('a wrong element count is an error naming the input, the count and the expected shape', () => {
    const { graph } = smallGraph();
    expect(() => interpret(graph, { x: [1, 2, 3], 'layer.weight': [1, 0, 0, 1] }))
      .toThrow(/input "x" has 3 values, expected 4 for f32\[2, 2\]/);
  });

  it('does not take inherited properties of a record for inputs', () => {
    const g = new GraphBuilder();
    const graph = g.graph([{ name: 'o', node: g.unary('neg', g.input('constructor', [1], 'f32')) }]);
    expect(() => interpret(graph, {})).toThrow(InterpreterInputError);
  });

  it('outputs never alias an input array or each other', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [4], 'f32');
    const r = g.reshape(x, [2, 2]);
    const graph = g.graph([{ name: 'a', node: x }, { name: 'b', node: r }, { name: 'c', node: r }]);
    const given = Float64Array.of(1, 2, 3, 4);
    const out = interpret(graph, { x: given });
    const arrays = [given, out.get('a'), out.get('b'), out.get('c')];
    expect(new Set(arrays).size).toBe(4);
    expectValues(out.get('c') as Float64Array, [1, 2, 3, 4]);
  });

  it('calls onNode once per node, operands before users', () => {
    const { graph, x, w, y, s } = smallGraph();
    const seen: Node[] = [];
    interpret(graph, { x: [1, 2, 3, 4], 'layer.weight': [1, 0, 0, 1] }, {
      onNode: (node, vals) => { seen.push(node); expect(vals.length).toBe(node.shape.reduce((a, b) => a * b, 1)); },
    });
    expect(seen).toHaveLength(4);
    expect(new Set(seen)).toEqual(new Set([x, w, y, s]));
    expect(seen.indexOf(y)).toBeGreaterThan(Math.max(seen.indexOf(x), seen.indexOf(w)));
    expect(seen.indexOf(s)).toBeGreaterThan(seen.indexOf(y));
  });
});

describe('evaluate', () => {
  it('returns intermediate values asked for as roots', () => {
    const { y, s } = smallGraph();
    const vals = evaluate([y, s], { x: [1, 2, 3, 4], 'layer.weight': [2, 0, 0, 2] });
    expectValues(vals.get(y.id) as Float64Array, [2, 4, 6, 8]);
    expectValues(vals.get(s.id) as Float64Array, [6, 14]);
    expect(vals.size).toBe(2);
  });

  it('evaluates only what the roots need (unused inputs may be absent)', () => {
    const g = new GraphBuilder();
    const n = g.unary('neg', g.input('x', [2, 2], 'f32'));
    g.input('unused', [3], 'f32');
    expectValues(evaluate([n], { x: [1, -2, 3, -4] }).get(n.id) as Float64Array, [-1, 2, -3, 4]);
  });

  it('handles deep graphs (thousands of nodes) and shared operands', () => {
    const g = new GraphBuilder();
    let h: Node = g.input('x', [3], 'f32');
    const one = g.const(1, [3]);
    const scale = g.const(0.3, [3]);
    // add(h, h) uses one operand twice; the chain converges to 2.5 from any start.
    for (let i = 0; i < 3000; i++) h = i % 2 === 0 ? g.binary('add', h, h) : g.binary('add', g.binary('mul', h, scale), one);
    const got = evaluate([h], { x: [0, 0.5, -1] }).get(h.id) as Float64Array;
    // Independent recurrence on plain numbers.
    const expected = [0, 0.5, -1].map((v) => { for (let i = 0; i < 3000; i++) v = i % 2 === 0 ? v + v : v * 0.3 + 1; return v; });
    expectValues(got, expected);
  });
});
