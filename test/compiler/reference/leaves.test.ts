import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { philox4x32 } from '../../../compiler/random.ts';
import { expectValues, run } from './helpers.ts';

describe('const', () => {
  it('fills the shape with its value, including -Infinity and NaN', () => {
    const g = new GraphBuilder();
    expectValues(run(g.const(2.5, [2, 3])), new Array(6).fill(2.5));
    expectValues(run(g.const(-Infinity, [3])), [-Infinity, -Infinity, -Infinity]);
    expectValues(run(g.const(NaN, [2])), [NaN, NaN]);
    expectValues(run(g.const(-7, [2], 'i32')), [-7, -7]);
    expectValues(run(g.const(5, [2], 'bool')), [1, 1]);
    expectValues(run(g.const(1, [0, 3])), []);
  });
});

describe('iota', () => {
  it('is the index along its axis', () => {
    const g = new GraphBuilder();
    expectValues(run(g.iota([2, 3], 0)), [0, 0, 0, 1, 1, 1]);
    expectValues(run(g.iota([2, 3], 1)), [0, 1, 2, 0, 1, 2]);
    expectValues(run(g.iota([2, 3, 2], 1)), [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    expectValues(run(g.iota([4], -1)), [0, 1, 2, 3]);
  });

  it('feeds integer arithmetic: a causal mask from iotas', () => {
    const g = new GraphBuilder();
    const mask = g.binary('le', g.iota([3, 3], 1), g.iota([3, 3], 0));
    expectValues(run(mask), [1, 0, 0, 1, 1, 0, 1, 1, 1]);
  });
});

describe('random', () => {
  it('uniform element 0 of seed 0 is word 0 of the all-zero Philox known answer', () => {
    const g = new GraphBuilder();
    // philox4x32-10((0,0,0,0), (0,0)) word 0 = 0x6627e8d5 (Random123 known answer).
    expectValues(run(g.random([1], 'uniform', 0)), [0x6627e8 / 2 ** 24]);
  });

  it('element i uses counter (i, 0, 0, 0) and key (seed, 0), row-major', () => {
    const g = new GraphBuilder();
    const seed = 123456;
    const words = Array.from({ length: 6 }, (_, i) => philox4x32([i, 0, 0, 0], [seed, 0]));
    const uniform = words.map((w) => (w[0] >>> 8) / 2 ** 24);
    const normal = words.map((w) =>
      Math.sqrt(-2 * Math.log(((w[0] >>> 8) + 1) / 2 ** 24)) * Math.cos(2 * Math.PI * ((w[1] >>> 8) / 2 ** 24)));
    expectValues(run(g.random([2, 3], 'uniform', seed)), uniform);
    expectValues(run(g.random([3, 2], 'normal', seed)), normal);
    // f16 random values are not rounded (the defining formula, exactly).
    expectValues(run(g.random([6], 'normal', seed, 'f16')), normal);
  });

  it('different seeds give different tensors', () => {
    const g = new GraphBuilder();
    expect(run(g.random([4], 'normal', 1))).not.toEqual(run(g.random([4], 'normal', 2)));
  });
});
