/** The profile table and op abbreviations, with numbers worked out by hand. */
import { describe, expect, it } from 'vitest';
import { abbreviateOps, formatProfile } from '../../../runtime/gpu/profile.ts';

describe('abbreviateOps', () => {
  it('keeps op names once, in order, and counts what does not fit', () => {
    expect(abbreviateOps(['conv @ a.b (f:1:1)', 'add @ a.c (f:2:1)', 'conv @ a.d (f:3:1)'])).toBe('conv, add');
    expect(abbreviateOps(['group_norm @ x', 'silu @ x', 'conv @ x', 'add @ x'], 16)).toBe('group_norm, silu (+2)');
    expect(abbreviateOps([])).toBe('');
  });
});

describe('formatProfile', () => {
  it('prints ms, share of the total, GFLOP/s and GB/s per kernel and a total row', () => {
    const text = formatProfile([
      { kernel: 'k00_conv', ms: 3, flops: 6e9, bytes: 3e9, sourceOps: ['conv @ m (f:1:1)'] },
      { kernel: 'k01_add', ms: 1, flops: 0, bytes: 1e6, sourceOps: ['add @ m (f:2:1)'] },
    ], 'timestamp');
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^kernel\s+ms\s+%\s+GFLOP\/s\s+GB\/s\s+source ops$/);
    const conv = lines.find((l) => l.startsWith('k00_conv'))!.split(/\s+/);
    expect(conv.slice(0, 6)).toEqual(['k00_conv', '3.000', '75.0%', '2000', '1000', 'conv']);
    const add = lines.find((l) => l.startsWith('k01_add'))!.split(/\s+/);
    expect(add.slice(0, 6)).toEqual(['k01_add', '1.000', '25.0%', '-', '1.00', 'add']);
    const total = lines.find((l) => l.startsWith('total'))!.split(/\s+/);
    expect(total.slice(0, 5)).toEqual(['total', '4.000', '100.0%', '1500', '750']);
    expect(text).toContain('GPU timestamp queries');
    expect(formatProfile([], 'wall')).toContain('wall clock');
  });
});
