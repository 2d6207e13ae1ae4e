/**
 * Values the elaborator computes with. The same evaluator runs in two modes:
 * - check: config values and sizes are symbolic (Dims with variables, unknown floats), tensors
 *   carry only their type; this is `kiln check`.
 * - trace: every config value and size is concrete, and tensors also carry a backend handle
 *   (an IR node); this is binding.
 *
 * Integers are Dims so that config arithmetic and shapes share one algebra. Tensor types keep
 * an optional axis label per dimension (from declared types like f32[B, C, T, H, W]) so that
 * reductions, pads and permutes can name axes.
 */
import type { DTypeName, FnDecl, ModuleDecl } from './ast.ts';
import { Dim, shapeToString, type Shape } from './dims.ts';
import type { Span } from './source.ts';

export interface TensorType {
  readonly dtype: DTypeName;
  readonly shape: Shape;
  /** Axis labels, one per dim (undefined where unnamed). */
  readonly labels: readonly (string | undefined)[];
}

export interface TensorValue extends TensorType {
  /** Backend handle in trace mode; undefined in check mode. */
  readonly handle: unknown;
}

/** A symbolic boolean's canonical text, used as a path fact (e.g. `add_downsample`, `cin - cout != 0`). */
export type CondText = string;

/** What is learnt on a branch: conditions that hold, and an equation to substitute (`a == b`). */
export interface Fact {
  readonly conds: readonly CondText[];
  readonly subst?: readonly [string, Dim];
}

/** A boolean not known in check mode: its canonical text, its negation, and what each branch learns. */
export interface SymBool {
  readonly text: CondText;
  readonly neg: CondText;
  /** How the user wrote it, for messages. */
  readonly display: string;
  readonly whenTrue: Fact;
  readonly whenFalse: Fact;
}

export interface ModuleInstance {
  readonly decl: ModuleDecl;
  /** State-dict key prefix: '' for the root, else ends with '.'; set when the parent places it. */
  prefix: string;
  /** Constructor arguments by parameter name. */
  readonly config: ReadonlyMap<string, Value>;
  /** Members in declaration order. */
  readonly members: Map<string, MemberValue>;
}

export type MemberValue =
  | { readonly kind: 'weight'; readonly name: string; readonly type: TensorType; readonly span: Span; readonly presence?: SymBool }
  | { readonly kind: 'submodule'; readonly value: Value; readonly span: Span; readonly presence?: SymBool }
  | { readonly kind: 'let'; readonly value: Value; readonly span: Span; readonly presence?: SymBool }
  | { readonly kind: 'fn'; readonly decl: FnDecl; readonly span: Span };

export type Callable =
  | { readonly kind: 'fn'; readonly decl: FnDecl; readonly self?: ModuleInstance }
  | { readonly kind: 'module_class'; readonly decl: ModuleDecl }
  | { readonly kind: 'builtin'; readonly name: string };

export type Value =
  | { readonly kind: 'int'; readonly dim: Dim }
  | { readonly kind: 'float'; readonly value: number | undefined }
  | { readonly kind: 'bool'; readonly value: boolean | undefined; readonly sym?: SymBool }
  | { readonly kind: 'str'; readonly value: string | undefined }
  | { readonly kind: 'none' }
  | { readonly kind: 'list'; readonly items: readonly Value[] }
  /** A list whose length and items are symbolic (check mode): item i is `item(i)`. */
  | { readonly kind: 'symlist'; readonly name: string; readonly length: Dim; readonly item: (index: Dim) => Value }
  | { readonly kind: 'tuple'; readonly items: readonly Value[]; readonly names?: readonly (string | null)[] }
  | { readonly kind: 'range'; readonly start: Dim; readonly end: Dim }
  | { readonly kind: 'tensor'; readonly t: TensorValue }
  | { readonly kind: 'module'; readonly inst: ModuleInstance }
  | { readonly kind: 'callable'; readonly callable: Callable }
  | { readonly kind: 'dtype'; readonly dtype: DTypeName }
  /** Not known in check mode (after widening, or after an error was already reported). */
  | { readonly kind: 'unknown' };

export const UNKNOWN: Value = { kind: 'unknown' };
export const NONE: Value = { kind: 'none' };

export const intValue = (n: number | Dim): Value => ({ kind: 'int', dim: typeof n === 'number' ? Dim.of(n) : n });
export const floatValue = (v: number | undefined): Value => ({ kind: 'float', value: v });
export const boolValue = (v: boolean | undefined, sym?: SymBool): Value => ({ kind: 'bool', value: v, sym });

export function typeToString(t: TensorType): string {
  const dims = t.shape.map((d, i) => {
    const s = d.toString();
    const l = t.labels[i];
    return l && l !== s ? `${l}=${s}` : s;
  });
  return `${t.dtype}[${dims.join(', ')}]`;
}

export function plainTypeToString(t: TensorType): string {
  return `${t.dtype}${shapeToString(t.shape)}`;
}

/** A short description of a value's kind for messages ("an int", "a tensor f32[B, C]", ...). */
export function describeValue(v: Value): string {
  switch (v.kind) {
    case 'int': return v.dim.isConst ? `the int ${v.dim}` : `an int (${v.dim})`;
    case 'float': return v.value === undefined ? 'a float' : `the float ${v.value}`;
    case 'bool': return v.value === undefined ? 'a bool' : `the bool ${v.value}`;
    case 'str': return v.value === undefined ? 'a string' : `the string ${JSON.stringify(v.value)}`;
    case 'none': return 'none';
    case 'list': return `a list of ${v.items.length}`;
    case 'symlist': return `the list ${v.name}`;
    case 'tuple': return `a tuple of ${v.items.length}`;
    case 'range': return 'a range';
    case 'tensor': return `a tensor ${typeToString(v.t)}`;
    case 'module': return `a ${v.inst.decl.name} module`;
    case 'callable': return v.callable.kind === 'builtin' ? `the builtin ${v.callable.name}` : v.callable.kind === 'fn' ? `the function ${v.callable.decl.name}` : `the module class ${v.callable.decl.name}`;
    case 'dtype': return `the dtype ${v.dtype}`;
    case 'unknown': return 'a value';
  }
}

/** Concrete JSON-like view of a config value (for keys, caches and messages). */
export function valueToJson(v: Value): unknown {
  switch (v.kind) {
    case 'int': return v.dim.value ?? v.dim.toString();
    case 'float': return v.value ?? null;
    case 'bool': return v.value ?? null;
    case 'str': return v.value ?? null;
    case 'none': return null;
    case 'list': case 'tuple': return v.items.map(valueToJson);
    default: return describeValue(v);
  }
}
