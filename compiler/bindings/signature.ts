/**
 * The binding signature of an entry function: its parameters and outputs as a caller outside
 * Kiln sees them once the module's config is known.
 *
 * Vocabulary
 * - SigDim: one axis of a tensor type. `const` when the config fixes it (in_channels = 4),
 *   `size` when it is a size variable the inputs bind (B, T, H, W), `pack` for `...S`, and
 *   `expr` for anything else (`(T - 1) // 2 + 1`, `_`, a size given by an int argument).
 * - Parameters are `tensor` (an input of the graph) or `value` (an int, float, bool, string or
 *   list argument, as JSON). Outputs are named as tracing names them: a named tuple's names,
 *   `out0`, `out1`... for an unnamed tuple, `out` for a single tensor.
 * The same signature feeds the TypeScript emitter, the bindings runtime and `kiln run`.
 */
import type { DimExpr, DTypeName, Expr, FnDecl, ModuleDecl, TypeExpr } from '../../dsl/ast.ts';
import { Dim } from '../../dsl/dims.ts';
import type { Span } from '../../dsl/source.ts';
import type { ModuleInstance, Value } from '../../dsl/values.ts';
import { BindingInputError } from './errors.ts';

export type SigDim =
  | { readonly kind: 'const'; readonly value: number }
  | { readonly kind: 'size'; readonly name: string }
  | { readonly kind: 'pack'; readonly name: string }
  | { readonly kind: 'expr'; readonly text: string };

export type ValueType =
  | { readonly kind: 'int' | 'float' | 'bool' | 'str' }
  | { readonly kind: 'list'; readonly elem: ValueType; readonly length?: number }
  | { readonly kind: 'other'; readonly text: string };

export interface TensorParam {
  readonly kind: 'tensor';
  readonly name: string;
  readonly dtype: DTypeName;
  readonly dims: readonly SigDim[];
  /** Declared with a default (`= none`): may be left out. */
  readonly optional: boolean;
  /** The type as written in the source. */
  readonly declared: string;
  /** The default as written, when there is one. */
  readonly defaultText?: string;
}

export interface ValueParam {
  readonly kind: 'value';
  readonly name: string;
  readonly type: ValueType;
  readonly optional: boolean;
  /** The default as JSON when it is a literal (null for `none`); absent when it is computed. */
  readonly literalDefault?: { readonly json: unknown };
  readonly declared: string;
  readonly defaultText?: string;
}

export type ParamSig = TensorParam | ValueParam;

export interface OutputSig {
  readonly name: string;
  readonly dtype: DTypeName;
  readonly dims: readonly SigDim[];
  readonly declared: string;
}

export interface FunctionSig {
  readonly name: string;
  readonly params: readonly ParamSig[];
  /** Undefined when the function declares no result type (names and shapes are known only after tracing). */
  readonly outputs?: readonly OutputSig[];
  /** Size variables and packs, in order of first appearance in the parameters. */
  readonly sizes: readonly string[];
  readonly packs: readonly string[];
  /** `where` constraints as written. */
  readonly constraints: readonly string[];
  /** The `#` comment above the declaration. */
  readonly doc?: string;
  /** `fn name(...) -> ...` as written (one line). */
  readonly declared: string;
}

/** Config values and module lets that dims may name, from a bound module instance. */
export interface ConfigScope {
  value(name: string): Value | undefined;
}

export const NO_CONFIG: ConfigScope = { value: () => undefined };

export function instanceScope(inst: ModuleInstance): ConfigScope {
  return {
    value(name) {
      const m = inst.members.get(name);
      if (m && m.kind === 'let') return m.value;
      return inst.config.get(name);
    },
  };
}

export const spanText = (span: Span): string => span.file.text.slice(span.start, span.end).replace(/\s*\n\s*/g, ' ');

/** The `#` comment lines directly above a declaration, without the `#`. */
export function docComment(decl: FnDecl | ModuleDecl): string | undefined {
  const file = decl.span.file;
  const lines: string[] = [];
  for (let line = file.position(decl.span.start).line - 1; line >= 1; line--) {
    const text = file.lineText(line).trim();
    if (!text.startsWith('#')) break;
    lines.unshift(text.replace(/^#\s?/, ''));
  }
  return lines.length ? lines.join('\n') : undefined;
}

/** Why `fn` cannot be called from outside Kiln, or undefined when it can. */
export function entryProblem(fn: FnDecl): string | undefined {
  for (const p of fn.params) {
    if (p.type.kind === 'type_module') return `its parameter '${p.name}' is a module`;
    if (p.type.kind === 'type_tensor' && p.type.dtype === 'f16') return `its parameter '${p.name}' is f16 (inputs enter as f32, i32 or bool)`;
  }
  for (const [i, it] of (fn.result?.items ?? []).entries()) {
    if (it.type.kind !== 'type_tensor') return `its result ${it.name ?? i} is not a tensor (${spanText(it.type.span)})`;
  }
  return undefined;
}

export function functionSignature(fn: FnDecl, scope: ConfigScope = NO_CONFIG): FunctionSig {
  const valueParams = new Set(fn.params.filter((p) => p.type.kind !== 'type_tensor').map((p) => p.name));
  const sizes: string[] = [];
  const packs: string[] = [];
  // Size variables: bare names on tensor parameters' axes that are no config value, let or argument.
  for (const p of fn.params) {
    if (p.type.kind !== 'type_tensor') continue;
    for (const d of p.type.dims) {
      if (d.kind === 'dim_pack' && !packs.includes(d.name)) packs.push(d.name);
      if (d.kind === 'dim_sym' && !valueParams.has(d.name) && scope.value(d.name) === undefined && !sizes.includes(d.name)) sizes.push(d.name);
    }
  }
  const dims = (t: TypeExpr & { kind: 'type_tensor' }): SigDim[] => t.dims.map((d) => sigDim(d, scope, valueParams, sizes));
  const params = fn.params.map((p): ParamSig => {
    const declared = spanText(p.type.span);
    const optional = p.default !== undefined;
    const defaultText = p.default ? { defaultText: spanText(p.default.span) } : {};
    if (p.type.kind === 'type_tensor') return { kind: 'tensor', name: p.name, dtype: p.type.dtype, dims: dims(p.type), optional, declared, ...defaultText };
    const lit = p.default ? literalJson(p.default) : undefined;
    return { kind: 'value', name: p.name, type: valueType(p.type), optional, ...(lit ? { literalDefault: lit } : {}), declared, ...defaultText };
  });
  const outputs = fn.result?.items.map((it, i): OutputSig => {
    const name = fn.result!.tuple ? (it.name ?? `out${i}`) : 'out';
    if (it.type.kind !== 'type_tensor') throw new BindingInputError(`${fn.name} cannot be an entry point: its result ${name} is not a tensor`);
    return { name, dtype: it.type.dtype, dims: dims(it.type), declared: spanText(it.type.span) };
  });
  const head = spanText({ file: fn.span.file, start: fn.span.start, end: fn.body.span.start }).trim();
  return { name: fn.name, params, outputs, sizes, packs, constraints: fn.constraints.map((c) => spanText(c.span)), doc: docComment(fn), declared: head };
}

function sigDim(d: DimExpr, scope: ConfigScope, valueParams: ReadonlySet<string>, sizes: readonly string[]): SigDim {
  if (d.kind === 'dim_pack') return { kind: 'pack', name: d.name };
  const v = evalDim(d, scope, valueParams);
  if (v?.value !== undefined) return { kind: 'const', value: v.value };
  const size = v && sizes.find((s) => v.equals(Dim.sym(s)));
  if (size) return { kind: 'size', name: size };
  return { kind: 'expr', text: spanText(d.span) };
}

/** A dim with the config substituted; undefined when it depends on something known only at call time. */
function evalDim(d: DimExpr, scope: ConfigScope, valueParams: ReadonlySet<string>): Dim | undefined {
  const rec = (e: DimExpr) => evalDim(e, scope, valueParams);
  switch (d.kind) {
    case 'dim_int': return Dim.of(d.value);
    case 'dim_sym': {
      if (valueParams.has(d.name)) return undefined;
      const v = scope.value(d.name);
      if (v === undefined) return Dim.sym(d.name);
      return v.kind === 'int' ? v.dim : undefined;
    }
    case 'dim_index': {
      const list = scope.value(d.name);
      const i = rec(d.index)?.value;
      if (list?.kind !== 'list' || i === undefined) return undefined;
      const item = list.items[i < 0 ? list.items.length + i : i];
      return item?.kind === 'int' ? item.dim : undefined;
    }
    case 'dim_neg': return rec(d.operand)?.neg();
    case 'dim_bin': {
      const a = rec(d.left);
      const b = rec(d.right);
      if (!a || !b) return undefined;
      try {
        switch (d.op) {
          case '+': return a.add(b);
          case '-': return a.sub(b);
          case '*': return a.mul(b);
          case '//': case '/': return a.floorDiv(b);
          case '%': return a.mod(b);
        }
      } catch {
        return undefined;
      }
      return undefined;
    }
    case 'dim_infer': case 'dim_pack': return undefined;
  }
}

export function valueType(t: TypeExpr): ValueType {
  if (t.kind === 'type_scalar') return { kind: t.name };
  if (t.kind === 'type_list') return { kind: 'list', elem: valueType(t.elem), ...(t.length !== undefined ? { length: t.length } : {}) };
  return { kind: 'other', text: spanText(t.span) };
}

/** A literal default as JSON (`none` is null), or undefined when it is computed. */
function literalJson(e: Expr): { json: unknown } | undefined {
  switch (e.kind) {
    case 'int': case 'float': case 'bool': case 'str': return { json: e.value };
    case 'none': return { json: null };
    case 'unary': {
      const inner = e.op === '-' ? literalJson(e.operand) : undefined;
      return inner && typeof inner.json === 'number' ? { json: -inner.json } : undefined;
    }
    case 'list': {
      const items = e.items.map(literalJson);
      return items.every((x) => x !== undefined) ? { json: items.map((x) => x!.json) } : undefined;
    }
    default: return undefined;
  }
}

/** `f32[B, 4, T]`: a signature's tensor type with the config filled in. */
export function formatSigType(dtype: DTypeName, dims: readonly SigDim[]): string {
  return `${dtype}[${dims.map(formatSigDim).join(', ')}]`;
}

export function formatSigDim(d: SigDim): string {
  switch (d.kind) {
    case 'const': return String(d.value);
    case 'size': return d.name;
    case 'pack': return `...${d.name}`;
    case 'expr': return d.text;
  }
}

/**
 * The positional argument list of a call from arguments given by name: parameters left out
 * before a given one are filled with their literal default (`none` included); a left-out
 * parameter whose default is computed cannot be skipped that way and is reported.
 */
export function orderArguments<T>(sig: FunctionSig, given: ReadonlyMap<string, T>, fromDefault: (json: unknown, p: ParamSig) => T, owner: string): T[] {
  const unknown = [...given.keys()].filter((k) => !sig.params.some((p) => p.name === k));
  if (unknown.length) {
    throw new BindingInputError(`${owner} has no parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')}; its parameters are ${describeParams(sig)}.`);
  }
  const missing = sig.params.filter((p) => !p.optional && !given.has(p.name));
  if (missing.length) {
    throw new BindingInputError(`${owner} needs ${missing.map((p) => `'${p.name}' (${p.declared})`).join(', ')}; its parameters are ${describeParams(sig)}.`);
  }
  let last = -1;
  sig.params.forEach((p, i) => { if (given.has(p.name)) last = i; });
  return sig.params.slice(0, last + 1).map((p) => {
    if (given.has(p.name)) return given.get(p.name)!;
    const def = p.kind === 'tensor' ? { json: null } : p.literalDefault;
    if (!def) {
      throw new BindingInputError(`${owner}: '${p.name}' has a computed default, so it must be given when a later parameter is (give '${p.name}' too).`);
    }
    return fromDefault(def.json, p);
  });
}

export function describeParams(sig: FunctionSig): string {
  return sig.params.length ? sig.params.map((p) => `${p.name}: ${p.declared}${p.optional ? ' (optional)' : ''}`).join(', ') : '(none)';
}

/** The axes a shape gives each SigDim of `p` (packs excluded), or a problem when the rank is wrong. */
function alignAxes(p: TensorParam, shape: readonly number[]): { dim: SigDim; axis: number }[] | string {
  const packAt = p.dims.findIndex((d) => d.kind === 'pack');
  const want = `${p.dims.length} ${p.dims.length === 1 ? 'axis' : 'axes'}`;
  if (packAt < 0) {
    if (shape.length !== p.dims.length) return `has ${shape.length} axes but ${p.name}: ${p.declared} has ${want}`;
    return p.dims.map((dim, axis) => ({ dim, axis }));
  }
  const before = p.dims.slice(0, packAt);
  const lastPack = p.dims.length - 1 - [...p.dims].reverse().findIndex((d) => d.kind === 'pack');
  const after = p.dims.slice(lastPack + 1);
  if (shape.length < before.length + after.length) return `has ${shape.length} axes but ${p.name}: ${p.declared} needs at least ${before.length + after.length}`;
  return [
    ...before.map((dim, axis) => ({ dim, axis })),
    ...after.map((dim, i) => ({ dim, axis: shape.length - after.length + i })),
  ];
}

/**
 * Checks a tensor input's shape against its parameter: the rank, the axes the config fixes, and
 * size variables (every input naming B must agree; `sizes` collects them across a call).
 * Returns what is wrong, or undefined.
 */
export function shapeProblem(p: TensorParam, shape: readonly number[], sizes: Map<string, { size: number; from: string }>): string | undefined {
  const axes = alignAxes(p, shape);
  if (typeof axes === 'string') return axes;
  for (const { dim, axis } of axes) {
    const n = shape[axis];
    if (dim.kind === 'const' && n !== dim.value) return `has ${n} on axis ${axis} but ${p.name}: ${p.declared} needs ${dim.value} there (${formatSigType(p.dtype, p.dims)} with this config)`;
    if (dim.kind === 'size') {
      const seen = sizes.get(dim.name);
      if (seen && seen.size !== n) return `has ${dim.name} = ${n} on axis ${axis}, but ${seen.from} gave ${dim.name} = ${seen.size}`;
      if (!seen) sizes.set(dim.name, { size: n, from: p.name });
    }
  }
  return undefined;
}
