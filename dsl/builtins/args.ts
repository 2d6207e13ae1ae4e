/**
 * Argument reading for builtins. A builtin declares its parameters like a Python signature
 * (`['x', 'axis?', 'keepdim?']`, `'*xs'` for the rest); arguments are matched by position or
 * name and evaluated on demand, so axis arguments can name axes by label (`sum(x, axis: T)`).
 */
import type { Arg, Expr } from '../ast.ts';
import type { DTypeName } from '../ast.ts';
import { Dim } from '../dims.ts';
import { error } from '../diagnostics.ts';
import type { Elaborator, Env } from '../elaborate/elaborator.ts';
import type { Span } from '../source.ts';
import { describeValue, typeToString, type TensorValue, type Value } from '../values.ts';

export interface ParamSpec {
  readonly name: string;
  readonly optional: boolean;
  readonly rest: boolean;
}

export function parseSpec(spec: readonly string[]): ParamSpec[] {
  return spec.map((s) => ({ name: s.replace(/[?*]/g, ''), optional: s.endsWith('?'), rest: s.startsWith('*') }));
}

export class Args {
  private readonly byName = new Map<string, Arg>();
  private readonly rest: Arg[] = [];
  /** Keyword arguments that are not parameters (allowed when `extraKeywords`), e.g. pad's axis names. */
  readonly extra: Arg[] = [];
  private readonly cache = new Map<Arg, Value>();

  constructor(
    readonly el: Elaborator,
    readonly fn: string,
    args: readonly Arg[],
    readonly env: Env,
    readonly span: Span,
    params: readonly ParamSpec[],
    extraKeywords = false,
  ) {
    let pos = 0;
    let sawNamed = false;
    for (const a of args) {
      if (a.name) {
        sawNamed = true;
        const p = params.find((q) => q.name === a.name && !q.rest);
        if (!p) {
          if (extraKeywords) { this.extra.push(a); continue; }
          throw error(`${fn}() has no parameter '${a.name}'`, a.nameSpan ?? a.span, { help: `its parameters are (${params.map((q) => (q.rest ? `*${q.name}` : q.name)).join(', ')})` });
        }
        if (this.byName.has(p.name)) throw error(`argument '${a.name}' of ${fn}() is given twice`, a.span);
        this.byName.set(p.name, a);
        continue;
      }
      if (sawNamed) throw error('a positional argument cannot follow a keyword argument', a.span);
      const p = params[pos];
      if (!p) throw error(`${fn}() takes at most ${params.length} positional argument${params.length === 1 ? '' : 's'}`, a.span, { help: `its parameters are (${params.map((q) => q.name).join(', ')})` });
      if (p.rest) { this.rest.push(a); continue; }
      this.byName.set(p.name, a);
      pos++;
    }
    for (const p of params) {
      if (!p.optional && !p.rest && !this.byName.has(p.name)) {
        throw error(`${fn}() is missing its argument '${p.name}'`, span, { help: `call it as ${fn}(${params.filter((q) => !q.optional).map((q) => q.name).join(', ')})` });
      }
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  arg(name: string): Arg | undefined {
    return this.byName.get(name);
  }

  spanOf(name: string): Span {
    return this.byName.get(name)?.span ?? this.span;
  }

  restArgs(): readonly Arg[] {
    return this.rest;
  }

  evalArg(a: Arg): Value {
    let v = this.cache.get(a);
    if (!v) {
      v = this.el.eval(a.value, this.env);
      this.cache.set(a, v);
    }
    return v;
  }

  value(name: string): Value | undefined {
    const a = this.byName.get(name);
    return a ? this.evalArg(a) : undefined;
  }

  tensor(name: string): TensorValue | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    if (v.kind === 'tensor') return v.t;
    if (v.kind === 'unknown') return undefined;
    throw error(`${this.fn}(): '${name}' must be a tensor, got ${describeValue(v)}`, this.spanOf(name));
  }

  int(name: string, fallback?: number): Dim {
    const v = this.value(name);
    if (v === undefined) {
      if (fallback === undefined) throw error(`${this.fn}(): '${name}' is required`, this.span);
      return Dim.of(fallback);
    }
    return this.el.expectInt(v, this.spanOf(name), `${this.fn}(): '${name}'`);
  }

  /** A known integer (concrete in both modes), e.g. a stride or a seed. */
  knownInt(name: string, fallback?: number): number {
    const d = this.int(name, fallback);
    const n = d.value;
    if (n === undefined) {
      if (!this.el.tracing) return fallback ?? 1;
      throw error(`${this.fn}(): '${name}' must be known when the program is bound, got ${d}`, this.spanOf(name));
    }
    return n;
  }

  float(name: string, fallback?: number): number | undefined {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (v.kind === 'float') return v.value;
    if (v.kind === 'int') return v.dim.value;
    if (v.kind === 'unknown') return undefined;
    throw error(`${this.fn}(): '${name}' must be a number, got ${describeValue(v)}`, this.spanOf(name));
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (v.kind === 'bool' && v.value !== undefined) return v.value;
    if (v.kind === 'bool' || v.kind === 'unknown') return fallback;
    throw error(`${this.fn}(): '${name}' must be true or false, got ${describeValue(v)}`, this.spanOf(name));
  }

  str(name: string, fallback?: string): string | undefined {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (v.kind === 'str') return v.value;
    throw error(`${this.fn}(): '${name}' must be a string, got ${describeValue(v)}`, this.spanOf(name));
  }

  dtype(name: string, fallback: DTypeName): DTypeName {
    const v = this.value(name);
    if (v === undefined) return fallback;
    if (v.kind === 'dtype') return v.dtype;
    throw error(`${this.fn}(): '${name}' must be a dtype (f32, f16, i32 or bool), got ${describeValue(v)}`, this.spanOf(name));
  }

  /** A list of ints (or a single int, taken as a one-element list). */
  intList(name: string): Dim[] | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    return this.toIntList(v, this.spanOf(name), name);
  }

  toIntList(v: Value, span: Span, what: string): Dim[] {
    if (v.kind === 'int') return [v.dim];
    if (v.kind === 'list' || v.kind === 'tuple') return v.items.map((x) => this.el.expectInt(x, span, `${this.fn}(): each item of '${what}'`));
    throw error(`${this.fn}(): '${what}' must be a list of ints, got ${describeValue(v)}`, span);
  }

  /** A shape argument: ints, with `-1` allowed where `allowInfer` (reshape). */
  shape(name: string, allowInfer: boolean): (Dim | 'infer')[] {
    const a = this.byName.get(name);
    if (!a) throw error(`${this.fn}(): '${name}' is required`, this.span);
    return this.shapeOf(this.evalArg(a), a.span, allowInfer);
  }

  shapeOf(v: Value, span: Span, allowInfer: boolean): (Dim | 'infer')[] {
    return this.toIntList(v, span, 'shape').map((d) => {
      if (d.value === -1 && allowInfer) return 'infer';
      return d;
    });
  }

  /**
   * Axis arguments: each item an int (negative counts from the end) or the name of an axis label
   * of `x` (labels come from declared types such as f32[B, C, T, H, W]).
   */
  axes(name: string, x: TensorValue): number[] | undefined {
    const a = this.byName.get(name);
    if (!a) return undefined;
    return this.axesOf(a.value, x);
  }

  private isBound(name: string): boolean {
    return this.env.scope.lookup(name) !== undefined || !!this.env.self?.members.has(name) || !!this.env.self?.config.has(name) || this.env.file.scope.has(name);
  }

  /** True when an axis argument is a symbolic int (check mode), so the axis is not known. */
  axesUnknown(name: string, x: TensorValue): boolean {
    const a = this.byName.get(name);
    if (!a) return false;
    const items = a.value.kind === 'list' || a.value.kind === 'tuple' ? a.value.items : [a.value];
    return items.some((e) => {
      if (e.kind === 'name' && (x.labels.includes(e.name) || !this.isBound(e.name))) return false;
      const v = this.el.eval(e, this.env);
      return v.kind === 'int' && v.dim.value === undefined && !this.env.scope.lookup(e.kind === 'name' ? e.name : '')?.sizeVar;
    });
  }

  axesOf(e: Expr, x: TensorValue): number[] {
    const items = e.kind === 'list' || e.kind === 'tuple' ? e.items : [e];
    return items.map((it) => this.axisOf(it, x));
  }

  axisOf(e: Expr, x: TensorValue): number {
    if (e.kind === 'name') {
      const i = x.labels.indexOf(e.name);
      if (i >= 0) return i;
      // A size such as T is not an axis number: sum(x, axis: T) must not mean "axis 5" when T = 5;
      // and a name bound to nothing is an axis name the tensor lacks, not an unknown variable.
      const binding = this.env.scope.lookup(e.name);
      if (!this.isBound(e.name)) {
        const named = x.labels.filter(Boolean);
        throw error(`${this.fn}(): ${typeToString(x)} has no axis named '${e.name}'`, e.span, {
          help: named.length ? `its named axes are ${named.join(', ')}; or give the axis number` : 'give the axis number (axes are named by the declared parameter type, e.g. f32[B, C, T])',
        });
      }
      if (binding?.sizeVar) {
        const named = x.labels.filter(Boolean);
        throw error(`${this.fn}(): ${typeToString(x)} has no axis named '${e.name}' ('${e.name}' is a size, not an axis of this tensor)`, e.span, {
          help: named.length ? `its named axes are ${named.join(', ')}; or give the axis number` : 'give the axis number',
        });
      }
    }
    const v = this.el.eval(e, this.env);
    if (v.kind === 'int') {
      const n = v.dim.value;
      if (n === undefined) throw error(`${this.fn}(): the axis ${v.dim} must be a known integer or an axis name`, e.span);
      const r = x.shape.length;
      if (n < -r || n >= r) throw error(`${this.fn}(): axis ${n} is out of range for ${typeToString(x)} (rank ${r})`, e.span, { help: `axes go from 0 to ${r - 1}, or -${r} to -1 from the end` });
      return n < 0 ? n + r : n;
    }
    if (e.kind === 'name') {
      const named = x.labels.filter(Boolean);
      throw error(`${this.fn}(): ${typeToString(x)} has no axis named '${e.name}'`, e.span, {
        help: named.length ? `its named axes are ${named.join(', ')}; or give the axis number` : 'give the axis number (axes are named by the declared parameter type, e.g. f32[B, C, T])',
      });
    }
    throw error(`${this.fn}(): an axis must be an int or an axis name, got ${describeValue(v)}`, e.span);
  }
}
