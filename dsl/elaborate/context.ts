/**
 * The elaboration context: the mode (check or trace), the tensor backend (trace), collected
 * diagnostics (check), the path facts that hold in the current branch (check), and the module
 * path used to stamp origins on traced ops.
 *
 * Dims are compared through `compare`, which applies the facts' substitutions first; in check
 * mode an undecidable comparison is an obligation (counted, and checked for real when the
 * program is traced with concrete shapes), never an error.
 */
import type { TensorBackend, BackendOrigin } from '../backend.ts';
import { compareDims, compareSizes, Dim, type DimEnv } from '../dims.ts';
import { error, KilnError, type Diagnostic, type Note } from '../diagnostics.ts';
import type { Program } from '../program.ts';
import { formatLocation, type Span } from '../source.ts';
import type { CondText } from '../values.ts';

export type Mode = 'check' | 'trace';

/** What is known to hold on the current control-flow path (check mode). */
export class Facts {
  constructor(
    readonly conds: ReadonlySet<CondText> = new Set(),
    readonly subst: ReadonlyMap<string, Dim> = new Map(),
  ) {}

  with(cond: CondText | undefined, subst?: [string, Dim]): Facts {
    const conds = new Set(this.conds);
    if (cond) conds.add(cond);
    const s = new Map(this.subst);
    if (subst) s.set(subst[0], subst[1]);
    return new Facts(conds, s);
  }

  apply(d: Dim): Dim {
    if (this.subst.size === 0) return d;
    const env: DimEnv = { sym: (n) => this.subst.get(n) };
    return d.substitute(env);
  }
}

export interface Obligation {
  readonly message: string;
  readonly span: Span;
}

export class Ctx {
  readonly diagnostics: Diagnostic[] = [];
  readonly obligations: Obligation[] = [];
  private readonly seen = new Set<string>();
  facts = new Facts();
  /** Module instance path + function, for origins (e.g. `decoder.mid_block.resnets.0.forward`). */
  path: string[] = [];
  private fresh = 0;
  /** Call depth guard against runaway recursion. */
  depth = 0;

  constructor(
    readonly mode: Mode,
    readonly program: Program,
    readonly backend?: TensorBackend,
  ) {
    if (mode === 'trace' && !backend) throw new Error('internal: trace mode needs a backend');
  }

  get tracing(): boolean {
    return this.mode === 'trace';
  }

  /** A fresh symbolic dim that compares 'unknown' with everything but itself. */
  freshDim(hint = '?'): Dim {
    return Dim.sym(`${hint}${++this.fresh}`);
  }

  freshName(hint: string): string {
    return `${hint}${++this.fresh}`;
  }

  compare(a: Dim, b: Dim): 'equal' | 'different' | 'unknown' {
    return compareDims(this.facts.apply(a), this.facts.apply(b));
  }

  /** Compare two sizes (>= 1 each). */
  compareSizes(a: Dim, b: Dim): 'equal' | 'different' | 'unknown' {
    return compareSizes(this.facts.apply(a), this.facts.apply(b));
  }

  /** Require sizes a == b; `describe` builds the error when they provably differ. */
  requireEqual(a: Dim, b: Dim, span: Span, describe: () => { message: string; help?: string; notes?: Note[] }): void {
    const c = this.compareSizes(a, b);
    if (c === 'equal') return;
    if (c === 'unknown' && !this.tracing) {
      this.obligation(`${describe().message.replace(/ but .*$/, '')}: ${a} == ${b}`, span);
      return;
    }
    const d = describe();
    throw error(d.message, span, { help: d.help, notes: d.notes });
  }

  obligation(message: string, span: Span): void {
    this.obligations.push({ message, span });
  }

  /** Record (check mode) or throw (trace mode) an error. Duplicates are dropped. */
  report(e: KilnError): void {
    if (this.tracing) throw e;
    for (const d of e.diagnostics) {
      const key = `${d.span ? formatLocation(d.span) : ''}|${d.message}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.diagnostics.push(d);
    }
  }

  origin(op: string, span: Span): BackendOrigin {
    return { op, path: this.path.join('.') || '<top>', loc: formatLocation(span) };
  }

  /** Run a backend call under an origin (trace mode); undefined in check mode. */
  emit<T>(op: string, span: Span, fn: (b: TensorBackend) => T): T | undefined {
    if (!this.backend) return undefined;
    const b = this.backend;
    return b.withOrigin(this.origin(op, span), () => fn(b));
  }

  withFacts<T>(facts: Facts, fn: () => T): T {
    const saved = this.facts;
    this.facts = facts;
    try {
      return fn();
    } finally {
      this.facts = saved;
    }
  }

  withPath<T>(segment: string, fn: () => T): T {
    this.path.push(segment);
    try {
      return fn();
    } finally {
      this.path.pop();
    }
  }
}

/** Concrete number of a dim in trace mode (internal error if still symbolic). */
export function concrete(d: Dim, span: Span, what: string): number {
  const v = d.value;
  if (v === undefined) throw error(`${what} must be known when the program is bound, but it is ${d}`, span, { help: 'sizes must follow from the config and the input shapes' });
  return v;
}
