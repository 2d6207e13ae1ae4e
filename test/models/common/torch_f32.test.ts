/**
 * PyTorch's float32 host arithmetic: expF32 against torch.exp's own results (torch_exp_f32.json,
 * written by torch_exp_f32.py with Debian's PyTorch 1.13), and linspaceF32's exact ends.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expF32, linspaceF32 } from '../../../models/common/torch_f32.ts';

describe('expF32', () => {
  const fixture = JSON.parse(readFileSync(resolve(import.meta.dirname, 'torch_exp_f32.json'), 'utf8')) as { args: number[]; exp: number[] };

  it('gives torch.exp\'s float32 results bit for bit, where Math.exp rounds differently about one time in ten', () => {
    const mismatches = fixture.args.filter((a, i) => expF32(a) !== fixture.exp[i]);
    expect(mismatches).toEqual([]);
    const rounded = fixture.args.filter((a, i) => Math.fround(Math.exp(a)) !== fixture.exp[i]).length;
    expect(rounded).toBeGreaterThan(fixture.args.length / 20); // the fixture does tell the two apart
  });

  it('saturates as SLEEF does', () => {
    expect(expF32(-200)).toBe(0);
    expect(expF32(150)).toBe(Infinity);
    expect(expF32(0)).toBe(1);
  });
});

describe('linspaceF32', () => {
  it('hits both ends exactly and is symmetric about its middle', () => {
    for (const n of [2, 3, 11, 51, 1001]) {
      const s = linspaceF32(1, 0, n);
      expect([s[0], s[n - 1]]).toEqual([1, 0]);
      for (let i = 0; i < n; i++) expect(Math.abs(s[i] - (1 - i / (n - 1)))).toBeLessThan(1e-7);
    }
    expect(Array.from(linspaceF32(2, 5, 1))).toEqual([2]);
  });
});
