/**
 * `kiln check` through main(): diagnostics with locations and code frames, the summary line,
 * obligations with --verbose, parse errors, and exit codes (0 clean, 1 errors, 2 usage).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.ts';
import { captureConsole } from '../console_capture.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { EXAMPLE } from '../../compiler/bindings/gelu_mlp_reference.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { out, err } = captureConsole();

function write(name: string, text: string): string {
  const path = join(dirs.make(), name);
  writeFileSync(path, text);
  return path;
}

// Line 3 returns x (f32[B, 4]) where f32[B, 5] is declared; line 11 names something undefined.
// Pad.forward's result N + 2 * (p // 2) equals N + p - p % 2 for every p, which the symbolic
// checker cannot prove: an obligation, not an error.
const TWO_ERRORS = `# Two mistakes.
fn widen(x: f32[B, 4]) -> f32[B, 5] {
  x
}

module Pad(p: int) {
  fn forward(x: f32[N]) -> f32[N + p - p % 2] {
    pad(x, N: (p // 2, p // 2))
  }
  fn g(x: f32[N]) -> f32[N] {
    x + undefined_name
  }
}
`;

describe('kiln check', () => {
  it('passes a clean file: exit 0 and a summary', async () => {
    expect(await main(['check', EXAMPLE])).toBe(0);
    expect(out.join('\n')).toBe(`checked 1 module, 1 function in ${EXAMPLE}: no errors; 0 shape obligations deferred to bind time`);
    expect(err).toEqual([]);
  });

  it('prints every error with location, code frame and help, then the counts: exit 1', async () => {
    const path = write('bad.kiln', TWO_ERRORS);
    expect(await main(['check', path])).toBe(1);
    const text = out.join('\n');
    expect(text).toContain(`${path}:3:3: error: the result of widen must be f32[B, 5] but is f32[B, 4]`);
    expect(text).toContain('3 |   x\n  |   ^');
    expect(text).toContain(`${path}:11:9: error: unknown name 'undefined_name'`);
    expect(text).toContain('11 |     x + undefined_name\n   |         ^^^^^^^^^^^^^^');
    expect(text).toMatch(/help: /);
    expect(out[out.length - 1]).toBe(`checked 1 module, 1 function in ${path}: 2 errors; 1 shape obligation deferred to bind time (--verbose lists them)`);
    expect(text).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('lists the obligations with their locations under --verbose', async () => {
    const path = write('bad.kiln', TWO_ERRORS);
    expect(await main(['check', path, '--verbose'])).toBe(1);
    const i = out.indexOf('deferred to bind time:');
    expect(i).toBeGreaterThan(0);
    expect(out.slice(i + 1)).toHaveLength(1);
    expect(out[i + 1]).toMatch(new RegExp(`^  ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8:5: the result of Pad.forward must be f32\\[N \\+ p - p % 2\\]: `));
  });

  it('prints a parse error the same way: exit 1, nothing checked', async () => {
    const path = write('parse.kiln', 'fn f(x: f32[B) -> f32[B] {\n  x\n}\n');
    expect(await main(['check', path])).toBe(1);
    // Column 14 is the ')' where the shape's ']' should be.
    expect(out[0].split('\n')[0]).toBe(`${path}:1:14: error: expected ']' but found ')'`);
    expect(out.join('\n')).toContain('1 | fn f(x: f32[B) -> f32[B] {\n  |              ^');
    expect(out[out.length - 1]).toBe(`${path}: 1 error; nothing was checked (fix the files so they load first)`);
  });

  it('reports an import that cannot be read at the import', async () => {
    const path = write('imp.kiln', 'import "missing.kiln"\n\nfn f(x: f32[N]) -> f32[N] {\n  x\n}\n');
    expect(await main(['check', path])).toBe(1);
    expect(out[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:1: error: cannot read .*missing\\.kiln: no such file`));
  });

  it('checks several files together, counting each kind', async () => {
    const lib = write('lib.kiln', 'fn twice(x: f32[...S]) -> f32[...S] {\n  x * 2.0\n}\n\nlet SCALE = 3\n');
    expect(await main(['check', EXAMPLE, lib])).toBe(0);
    expect(out[0]).toBe(`checked 1 module, 2 functions, 1 constant in ${EXAMPLE}, ${lib}: no errors; 0 shape obligations deferred to bind time`);
  });

  it('is a usage error (exit 2) to name a missing file or no file', async () => {
    expect(await main(['check', 'no/such/file.kiln'])).toBe(2);
    expect(err).toEqual(['kiln check: no/such/file.kiln: no such file']);
    expect(await main(['check'])).toBe(2);
    expect(err[1]).toMatch(/give the \.kiln file\(s\) to load/);
    expect(await main(['check', EXAMPLE, '--bogus'])).toBe(2);
  });
});
