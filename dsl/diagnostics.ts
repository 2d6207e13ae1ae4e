/**
 * Diagnostics: every mistake in a Kiln program is reported as a Diagnostic — a message, the
 * span it is about (printed as file:line:col, the source line and a caret), optional notes
 * pointing at related spans, and a `help` line saying how to fix it. KilnError carries one or
 * more diagnostics and is `userFacing`: the CLI prints it without a stack trace.
 */
import { type Span, codeFrame, formatLocation } from './source.ts';

export interface Note {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly span?: Span;
  readonly notes?: readonly Note[];
  readonly help?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const lines: string[] = [];
  const where = d.span ? `${formatLocation(d.span)}: ` : '';
  lines.push(`${where}${d.severity}: ${d.message}`);
  if (d.span) lines.push(codeFrame(d.span));
  for (const n of d.notes ?? []) {
    if (n.span) {
      lines.push(`note: ${n.message} (${formatLocation(n.span)})`);
      lines.push(codeFrame(n.span));
    } else {
      lines.push(`note: ${n.message}`);
    }
  }
  if (d.help) lines.push(`help: ${d.help}`);
  return lines.join('\n');
}

export class KilnError extends Error {
  readonly userFacing = true;
  override name = 'KilnError';

  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n\n'));
  }

  /** The first diagnostic (most callers raise one at a time). */
  get diagnostic(): Diagnostic {
    return this.diagnostics[0];
  }
}

export function error(message: string, span: Span | undefined, extra: { notes?: Note[]; help?: string } = {}): KilnError {
  return new KilnError([{ severity: 'error', message, span, ...extra }]);
}
