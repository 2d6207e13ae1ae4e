/** The shader checker (Dawn's null backend): what it reports, and checks that overlap. */
import { describe, expect, it } from 'vitest';
import { shaderChecker } from '../../../runtime/gpu/shader-check.ts';

const VALID = '@group(0) @binding(0) var<storage, read_write> b: array<f32>;\n@compute @workgroup_size(64) fn main() { b[0] = 1.0; }';
const NO_F16 = '@group(0) @binding(0) var<storage, read_write> b: array<f32>;\n@compute @workgroup_size(64) fn main() { let x: f16 = 1.0h; b[0] = f32(x); }';
const TOO_WIDE = '@group(0) @binding(0) var<storage, read_write> b: array<f32>;\n@compute @workgroup_size(4096) fn main() { b[0] = 1.0; }';

describe('shaderChecker', () => {
  it('passes valid WGSL, and reports a WGSL error with its line and a pipeline error', async () => {
    const c = await shaderChecker();
    expect(await c.check(VALID)).toEqual([]);
    const f16 = await c.check(NO_F16);
    expect(f16).toHaveLength(1);
    expect(f16[0]).toMatchObject({ severity: 'error', line: 2 });
    expect(f16[0].message).toMatch(/'f16' type used without 'f16' extension enabled/);
    const wide = await c.check(TOO_WIDE);
    expect(wide.map((d) => d.severity)).toEqual(['error']);
    expect(wide[0].message).toMatch(/workgroup/i);
  });

  it('keeps overlapping checks apart (each gets its own diagnostics)', async () => {
    const c = await shaderChecker();
    // Unserialized, a WGSL error landed in the error scope of whichever check popped next.
    for (const [first, second] of [[NO_F16, VALID], [VALID, NO_F16]]) {
      const [a, b] = await Promise.all([c.check(first), c.check(second)]);
      const [bad, good] = first === NO_F16 ? [a, b] : [b, a];
      expect(good).toEqual([]);
      expect(bad.map((d) => d.line)).toEqual([2]);
    }
    const [wide, valid] = await Promise.all([c.check(TOO_WIDE), c.check(VALID)]);
    expect(wide.map((d) => d.severity)).toEqual(['error']);
    expect(valid).toEqual([]);
  });
});
