/**
 * `kiln check`: type-check a program without any GPU or concrete shapes. Every module is
 * checked with a symbolic config and every function body with its parameters' declared types;
 * what cannot be decided symbolically is reported as an obligation, checked again when the
 * program is bound with concrete shapes.
 */
import type { Diagnostic } from './diagnostics.ts';
import { KilnError } from './diagnostics.ts';
import { Ctx, type Obligation } from './elaborate/context.ts';
import { Elaborator } from './elaborate/elaborator.ts';
import type { LoadedFile, Program } from './program.ts';

export interface CheckResult {
  readonly diagnostics: readonly Diagnostic[];
  readonly obligations: readonly Obligation[];
  /** Names of the modules and functions checked. */
  readonly checked: readonly string[];
}

export function checkProgram(program: Program, opts: { files?: readonly LoadedFile[] } = {}): CheckResult {
  const ctx = new Ctx('check', program);
  const el = new Elaborator(ctx);
  const files = opts.files ?? program.entries.map((p) => program.files.get(p)!);
  const checked: string[] = [];
  for (const f of files) {
    for (const d of f.ast.decls) {
      try {
        if (d.kind === 'module') el.checkModule(d);
        else if (d.kind === 'fn') el.checkFunctionBody(d, undefined);
        else if (d.kind === 'const') el.globalValue(d);
        else continue;
      } catch (err) {
        if (err instanceof KilnError) ctx.report(err);
        else throw err;
      }
      checked.push((d as { name: string }).name);
    }
  }
  return { diagnostics: ctx.diagnostics, obligations: ctx.obligations, checked };
}
