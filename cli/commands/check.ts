/**
 * `kiln check FILE...`: type-check Kiln files without a GPU or concrete shapes. Prints every
 * diagnostic (file:line:col, the source line with a caret, help) and a summary: what was
 * checked, the errors, and how many shape facts could not be decided symbolically and are
 * deferred to bind time (obligations; `--verbose` lists them with their locations).
 */
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { sourceFiles } from './entry_options.ts';
import { checkProgram } from '../../dsl/check.ts';
import { formatDiagnostic, KilnError, type Diagnostic } from '../../dsl/diagnostics.ts';
import { loadProgram, type Program } from '../../dsl/program.ts';
import { formatLocation } from '../../dsl/source.ts';

const HELP = `Usage: kiln check FILE... [--verbose]

Type-checks Kiln source files (and the files they import) without a GPU: every module with a
symbolic config, every function with its declared parameter types. Shape facts that cannot be
decided symbolically (e.g. that two computed sizes agree for every config) are obligations,
checked again when the program is bound with concrete shapes.

Options:
  --verbose    List the deferred obligations with their locations.
  -h, --help   Show this help.

Exit status: 0 when there are no errors, 1 when there are, 2 on a usage error (e.g. a missing file).`;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export const checkCommand: Command = {
  name: 'check',
  summary: 'Type-check Kiln source files (no GPU needed)',
  help: HELP,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { verbose: { type: 'boolean', default: false } } });
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\nRun \`kiln check --help\` for the options.`);
    }
    const files = sourceFiles('check', parsed.positionals);
    const names = parsed.positionals.join(', ');
    let program: Program;
    try {
      program = loadProgram(files);
    } catch (err) {
      if (!(err instanceof KilnError)) throw err;
      // A file that does not parse (or an import that cannot be read): nothing was checked.
      printDiagnostics(err.diagnostics);
      console.log(`${names}: ${plural(countErrors(err.diagnostics), 'error')}; nothing was checked (fix the files so they load first)`);
      return 1;
    }
    const result = checkProgram(program);
    printDiagnostics(result.diagnostics);
    const errors = countErrors(result.diagnostics);
    const warnings = result.diagnostics.length - errors;
    const kinds = declarationKinds(program, result.checked);
    const what = [plural(kinds.module, 'module'), plural(kinds.fn, 'function'), ...(kinds.const ? [plural(kinds.const, 'constant')] : [])].join(', ');
    const problems = errors || warnings ? [plural(errors, 'error'), ...(warnings ? [plural(warnings, 'warning')] : [])].join(', ') : 'no errors';
    const deferred = `${plural(result.obligations.length, 'shape obligation')} deferred to bind time`;
    const hint = result.obligations.length && !parsed.values.verbose ? ' (--verbose lists them)' : '';
    console.log(`checked ${what} in ${names}: ${problems}; ${deferred}${hint}`);
    if (parsed.values.verbose && result.obligations.length) {
      console.log('deferred to bind time:');
      for (const o of result.obligations) console.log(`  ${formatLocation(o.span)}: ${o.message}`);
    }
    return errors ? 1 : 0;
  },
};

function printDiagnostics(diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) console.log(`${formatDiagnostic(d)}\n`);
}

const countErrors = (ds: readonly Diagnostic[]): number => ds.filter((d) => d.severity === 'error').length;

/** How many of the checked names are modules, functions and constants of the entry files. */
function declarationKinds(program: Program, checked: readonly string[]): { module: number; fn: number; const: number } {
  const out = { module: 0, fn: 0, const: 0 };
  for (const abs of program.entries) {
    for (const d of program.files.get(abs)?.ast.decls ?? []) {
      if (d.kind !== 'import' && checked.includes(d.name)) out[d.kind]++;
    }
  }
  return out;
}
