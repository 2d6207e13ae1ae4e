import { checkProgram } from '../../dsl/check.ts';
import { type Diagnostic, KilnError } from '../../dsl/diagnostics.ts';
import { loadSources } from '../../dsl/program.ts';
import { formatLocation } from '../../dsl/source.ts';
import { GraphBuilder } from '../../compiler/builder.ts';
import { TraceSession, type CallArg } from '../../dsl/session.ts';

/** Check a one-file program; returns its diagnostics (parse errors included). */
export function check(src: string, path = 'test.kiln'): Diagnostic[] {
  try {
    return [...checkProgram(loadSources({ [path]: src }, path)).diagnostics];
  } catch (e) {
    if (e instanceof KilnError) return [...e.diagnostics];
    throw e;
  }
}

export function where(d: Diagnostic): string {
  return d.span ? formatLocation(d.span).replace(/^.*?:/, '') : '<none>';
}

/** Trace Module.fn with a config and tensor shapes; returns the KilnError raised, if any. */
export function traceError(src: string, module: string, config: Record<string, unknown>, fn: string, args: CallArg[], path = 'test.kiln'): KilnError | undefined {
  try {
    const program = loadSources({ [path]: src }, path);
    const s = new TraceSession(program, new GraphBuilder());
    const inst = s.instantiate(module, config);
    s.call(inst, fn, args);
    return undefined;
  } catch (e) {
    if (e instanceof KilnError) return e;
    throw e;
  }
}

export const t = (name: string, shape: number[], dtype: 'f32' | 'i32' | 'bool' | 'f16' = 'f32'): CallArg => ({ kind: 'tensor', name, shape, dtype });
