/** KernelError messages: the kernel, its source ops, the WGSL line, and advice. */
import { describe, expect, it } from 'vitest';
import { formatSourceOps, kernelError, programError, wgslExcerpt } from '../../../runtime/gpu/kernel-errors.ts';

const kernel = { name: 'k03_conv_decoder.conv_in', wgsl: 'line one\nline two\nline three\nline four', sourceOps: ['conv @ decoder.conv_in.forward (vae.kiln:12:5)', 'add @ decoder.conv_in.forward (vae.kiln:12:20)'] };

describe('kernel errors', () => {
  it('name the kernel, point at the WGSL line and list the source ops', () => {
    const e = kernelError(kernel, 'compilation', '', [{ message: "unresolved value 'q'", lineNum: 3, linePos: 7 }]);
    expect(e.kernel).toBe('k03_conv_decoder.conv_in');
    expect(e.wgslLine).toBe(3);
    expect(e.userFacing).toBe(false);
    expect(e.message).toContain("Kernel 'k03_conv_decoder.conv_in' failed to compile.");
    expect(e.message).toContain("WGSL line 3:7: unresolved value 'q'");
    expect(e.message).toContain('>    3 | line three');
    expect(e.message).toContain('conv @ decoder.conv_in.forward (vae.kiln:12:5)');
    expect(e.message).toContain('--dump-wgsl');
  });

  it('are user-facing only for out-of-memory, with tiling advice', () => {
    const e = kernelError(kernel, 'out-of-memory', 'Out of memory');
    expect(e.userFacing).toBe(true);
    expect(e.message).toContain('--tile');
    expect(e.message).toContain('Out of memory');
  });

  it('list the kernels when no single one is to blame', () => {
    const e = programError([{ name: 'a' }, { name: 'b' }], 'internal', 'lost');
    expect(e.kernel).toBeUndefined();
    expect(e.message).toContain('Kernels: a, b.');
  });

  it('cut long op lists and excerpts at the file edges', () => {
    const ops = Array.from({ length: 11 }, (_, i) => `op${i} @ p`);
    const text = formatSourceOps(ops);
    expect(text).toContain('op7 @ p');
    expect(text).not.toContain('op8 @ p');
    expect(text).toContain('... and 3 more');
    expect(wgslExcerpt('only', 1)).toBe('  >    1 | only');
  });
});
