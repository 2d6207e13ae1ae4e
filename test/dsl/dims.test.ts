import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareDims, compareSizes, Dim, reparametrize } from '../../dsl/dims.ts';

const T = Dim.sym('T');
const H = Dim.sym('H');

describe('dimension polynomials', () => {
  it('canonical forms make equal expressions equal', () => {
    expect(T.add(1).mul(2).equals(T.mul(2).add(2))).toBe(true);
    expect(T.mul(H).equals(H.mul(T))).toBe(true);
    expect(T.sub(T).value).toBe(0);
    expect(T.add(H).sub(H).equals(T)).toBe(true);
  });

  it('prints readably', () => {
    expect(T.mul(2).add(1).toString()).toBe('2*T + 1');
    // Canonical: (T - 1) // 2 + 1 and (T + 1) // 2 are one value, printed one way.
    expect(T.sub(1).floorDiv(2).add(1).toString()).toBe('(T + 1) // 2');
    expect(T.sub(1).floorDiv(2).add(1).equals(T.add(1).floorDiv(2))).toBe(true);
    expect(T.mul(T).neg().add(H).toString()).toBe('-T^2 + H');
  });

  it('floor division and modulo simplify exact multiples', () => {
    expect(T.mul(4).add(1).sub(1).floorDiv(4).equals(T)).toBe(true);
    expect(T.mul(4).add(3).floorDiv(4).equals(T)).toBe(true);
    expect(T.mul(6).add(4).mod(2).value).toBe(0);
    expect(T.mul(6).add(5).mod(3).value).toBe(2);
    expect(T.mul(H).floorDiv(H).equals(T)).toBe(true);
  });

  it('matches integer arithmetic on random values (Python floor semantics)', () => {
    fc.assert(fc.property(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -9, max: 9 }), fc.integer({ min: -9, max: 9 }), fc.integer({ min: 1, max: 7 }), (t, a, b, c) => {
      const e = T.mul(a).add(b);
      const env = { sym: (n: string) => (n === 'T' ? Dim.of(t) : undefined) };
      const v = a * t + b;
      expect(e.floorDiv(c).substitute(env).value).toBe(Math.floor(v / c));
      expect(e.mod(c).substitute(env).value).toBe(((v % c) + c) % c);
    }));
  });

  it('compares integers and sizes', () => {
    expect(compareDims(T.add(1), T)).toBe('different');
    expect(compareDims(T.mul(2), T)).toBe('unknown');
    expect(compareSizes(T.mul(2), T)).toBe('different');
    expect(compareSizes(T.sub(1), Dim.of(0))).toBe('unknown');
  });

  it('reparametrises divisibility constraints', () => {
    const { value } = reparametrize('T', Dim.of(4), Dim.of(1));
    expect(value.toString()).toBe('4*⌊T/4⌋ + 1');
    expect(value.sub(1).floorDiv(4).add(1).toString()).toBe('⌊T/4⌋ + 1');
  });

  it('reports division by zero', () => {
    expect(() => T.floorDiv(0)).toThrow(/division by zero/);
  });
});
