/**
 * The recompute guard (passes/recompute.ts): an inlined node read by several kernels is
 * stored once when recomputing it everywhere would load more bytes. The case that found it: a
 * residual stream whose update is a concat of token ranges (so no epilogue carries it), which
 * every later block rebuilt from all earlier blocks' outputs.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile } from '../../../compiler/compile.ts';
import type { Graph, Node } from '../../../compiler/ir.ts';
import { storingIsCheaper } from '../../../compiler/passes/recompute.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { checkGraph } from '../support/gpu.ts';

const WIDE: Target = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxStorageBuffersPerShaderStage: 16 } };

/** `blocks` updates x ← x + concat(a[:4]·2, a[4:]·3) with a = x·W_i, over [12, 8] tokens. */
function concatResidualStream(blocks: number): Graph {
  const b = new GraphBuilder();
  let x: Node = b.input('x', [12, 8], 'f32');
  for (let i = 0; i < blocks; i++) {
    const a = b.matmul(x, b.input(`w${i}`, [8, 8], 'f32', 'weight'));
    const head = b.binary('mul', b.slice(a, [0, 0], [4, 8]), b.const(2, [4, 8]));
    const tail = b.binary('mul', b.slice(a, [4, 0], [8, 8]), b.const(3, [8, 8]));
    x = b.binary('add', x, b.concat([head, tail], 0));
  }
  return b.graph([{ name: 'y', node: b.unary('tanh', x) }]);
}

describe('the recompute guard', () => {
  it('stores a node read by several kernels only when that moves fewer bytes', () => {
    // One full-size operand (a norm's apply, a rotary): never stored.
    for (const readers of [2, 5, 100]) expect(storingIsCheaper(readers, 1)).toBe(false);
    // Two kernels reading x + f(a): 4 loads inlined against 2 + 1 + 2 stored.
    expect(storingIsCheaper(2, 2)).toBe(false);
    expect(storingIsCheaper(4, 2)).toBe(true);
    expect(storingIsCheaper(2, 4)).toBe(true);
  });

  it('keeps what each block reads bounded instead of growing with depth', () => {
    const p = compile(concatResidualStream(8), WIDE, { validate: true });
    const reads = p.kernels.map((k) => k.bindings.filter((bd) => bd.access === 'read').length);
    // Each block: its matmul reads x_i (or what x_i is made of, a few tensors) and W_i.
    expect(Math.max(...reads)).toBeLessThanOrEqual(4);
    expect(p.kernels.filter((k) => k.kind === 'contraction')).toHaveLength(8);
  });

  it('computes what the interpreter computes', async () => {
    await checkGraph(concatResidualStream(6), { rtol: 1e-5, limits: { maxStorageBuffersPerShaderStage: 16 } });
  });
});
