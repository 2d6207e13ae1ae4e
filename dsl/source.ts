/**
 * Source files and spans. A Span is a half-open byte range [start, end) of one SourceFile;
 * every AST node keeps one, so any error can point at the exact text it is about.
 */
export class SourceFile {
  private readonly lineStarts: number[];

  constructor(
    /** Path as the user named it (relative paths stay relative in messages). */
    readonly path: string,
    readonly text: string,
  ) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of an offset. */
  position(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo] + 1 };
  }

  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? this.text.length;
    const end = this.lineStarts[line] ?? this.text.length + 1;
    return this.text.slice(start, end - 1).replace(/\r$/, '');
  }
}

export interface Span {
  readonly file: SourceFile;
  readonly start: number;
  readonly end: number;
}

export function spanFrom(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** `path:line:col` of the span's start. */
export function formatLocation(span: Span): string {
  const { line, col } = span.file.position(span.start);
  return `${span.file.path}:${line}:${col}`;
}

/**
 * The source line(s) of a span with a caret underline, like:
 *
 *    12 |   let h = conv1(x) + y
 *       |           ^^^^^^^^^^^^
 */
export function codeFrame(span: Span): string {
  const { file } = span;
  const a = file.position(span.start);
  const b = file.position(Math.max(span.start, span.end - 1));
  const gutter = String(b.line).length;
  const out: string[] = [];
  const last = Math.min(b.line, a.line + 2);
  for (let line = a.line; line <= last; line++) {
    const text = file.lineText(line);
    out.push(`${String(line).padStart(gutter)} | ${text}`);
    const from = line === a.line ? a.col - 1 : text.length - text.trimStart().length;
    const to = line === b.line ? b.col : text.length;
    const width = Math.max(1, to - from);
    out.push(`${' '.repeat(gutter)} | ${' '.repeat(from)}${'^'.repeat(width)}`);
  }
  if (last < b.line) out.push(`${' '.repeat(gutter)} | ...`);
  return out.join('\n');
}
