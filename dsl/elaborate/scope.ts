/**
 * Lexical scopes of the elaborator. A binding is immutable (`let` in a module body, a function
 * parameter, a size variable) or mutable (`let` in a function body, which `name = value` may
 * rebind — loops accumulate this way, e.g. `h = block(h)`).
 */
import type { Span } from '../source.ts';
import type { Value } from '../values.ts';

export interface Binding {
  value: Value;
  readonly mutable: boolean;
  readonly span?: Span;
  /** Size variables come from tensor types, e.g. T in f32[B, C, T, H, W]. */
  readonly sizeVar?: boolean;
  /** A tensor parameter declared `= none` (check mode treats `x == none` as unknown). */
  readonly optional?: boolean;
}

export class Scope {
  readonly vars = new Map<string, Binding>();

  constructor(readonly parent?: Scope) {}

  lookup(name: string): Binding | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const b = s.vars.get(name);
      if (b) return b;
    }
    return undefined;
  }

  define(name: string, value: Value, opts: { mutable?: boolean; span?: Span; sizeVar?: boolean; optional?: boolean } = {}): void {
    this.vars.set(name, { value, mutable: opts.mutable ?? false, span: opts.span, sizeVar: opts.sizeVar, optional: opts.optional });
  }

  /** Every mutable binding visible from here, nearest first (for snapshots around branches). */
  mutables(): Map<string, Binding> {
    const out = new Map<string, Binding>();
    for (let s: Scope | undefined = this; s; s = s.parent) {
      for (const [k, b] of s.vars) if (b.mutable && !out.has(k)) out.set(k, b);
    }
    return out;
  }

  names(): string[] {
    const out = new Set<string>();
    for (let s: Scope | undefined = this; s; s = s.parent) for (const k of s.vars.keys()) out.add(k);
    return [...out];
  }
}
