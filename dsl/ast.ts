/**
 * The Kiln abstract syntax tree. Every node keeps the Span of the text it was parsed from.
 *
 * A program is a list of files; a file holds imports, modules (parameterised by a config, with
 * named weights, submodules and functions), free functions, and top-level `let` constants.
 * Types: scalar config types (`int`, `float`, `bool`, `str`), lists (`[int]`), and tensor
 * types `dtype[dims]` whose dims are dimension expressions (integers, symbols, + - * // %,
 * `_` for "inferred", `...S` for a pack of leading/trailing dims).
 */
import type { Span } from './source.ts';

export type DTypeName = 'f32' | 'f16' | 'i32' | 'bool';

// ---------------------------------------------------------------- types

export type DimExpr =
  | { kind: 'dim_int'; value: number; span: Span }
  | { kind: 'dim_sym'; name: string; span: Span }
  | { kind: 'dim_infer'; span: Span }
  | { kind: 'dim_pack'; name: string; span: Span }
  | { kind: 'dim_bin'; op: '+' | '-' | '*' | '//' | '%' | '/'; left: DimExpr; right: DimExpr; span: Span }
  | { kind: 'dim_neg'; operand: DimExpr; span: Span }
  /** A config list element, e.g. `stride[0]` or `channels[i]`. */
  | { kind: 'dim_index'; name: string; index: DimExpr; span: Span };

export type TypeExpr =
  | { kind: 'type_scalar'; name: 'int' | 'float' | 'bool' | 'str'; span: Span }
  | { kind: 'type_list'; elem: TypeExpr; length?: number; span: Span }
  | { kind: 'type_tensor'; dtype: DTypeName; dims: DimExpr[]; span: Span }
  /** `module` (any module instance), or a module name. */
  | { kind: 'type_module'; name: string | null; span: Span };

// ---------------------------------------------------------------- expressions

export interface Arg {
  /** Keyword name for `name: value` arguments. */
  readonly name?: string;
  readonly nameSpan?: Span;
  readonly value: Expr;
  readonly span: Span;
}

export type SliceItem =
  | { kind: 'index'; value: Expr; span: Span }
  | { kind: 'range'; start?: Expr; stop?: Expr; step?: Expr; span: Span }
  | { kind: 'ellipsis'; span: Span }
  | { kind: 'newaxis'; span: Span };

export type BinaryOp =
  | '+' | '-' | '*' | '/' | '//' | '%' | '**' | '@'
  | '==' | '!=' | '<' | '<=' | '>' | '>='
  | 'and' | 'or';

export type Expr =
  | { kind: 'int'; value: number; span: Span }
  | { kind: 'float'; value: number; span: Span }
  | { kind: 'bool'; value: boolean; span: Span }
  | { kind: 'str'; value: string; span: Span }
  | { kind: 'none'; span: Span }
  | { kind: 'name'; name: string; span: Span }
  | { kind: 'list'; items: Expr[]; span: Span }
  | { kind: 'tuple'; items: Expr[]; names?: (string | null)[]; span: Span }
  | { kind: 'comprehension'; body: Expr; variable: string; iterable: Expr; cond?: Expr; span: Span }
  | { kind: 'range'; start: Expr; end: Expr; span: Span }
  | { kind: 'unary'; op: '-' | 'not'; operand: Expr; span: Span }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
  | { kind: 'call'; callee: Expr; args: Arg[]; span: Span }
  | { kind: 'member'; object: Expr; name: string; nameSpan: Span; span: Span }
  | { kind: 'index'; object: Expr; items: SliceItem[]; span: Span }
  | { kind: 'if'; cond: Expr; then: Block; else?: Block; span: Span }
  | { kind: 'block'; block: Block; span: Span };

// ---------------------------------------------------------------- statements

export type Pattern =
  | { kind: 'pat_name'; name: string; span: Span }
  | { kind: 'pat_tuple'; items: Pattern[]; span: Span };

export type Stmt =
  | { kind: 'let'; pattern: Pattern; type?: TypeExpr; value: Expr; span: Span }
  | { kind: 'assign'; name: string; nameSpan: Span; value: Expr; span: Span }
  | { kind: 'for'; variable: string; variableSpan: Span; iterable: Expr; body: Block; span: Span }
  | { kind: 'assert'; cond: Expr; message?: Expr; span: Span }
  | { kind: 'expr'; expr: Expr; span: Span };

export interface Block {
  readonly stmts: Stmt[];
  /** The block's value: its last expression, when it ends with one. */
  readonly result?: Expr;
  readonly span: Span;
}

// ---------------------------------------------------------------- declarations

export interface Param {
  readonly name: string;
  readonly type: TypeExpr;
  readonly default?: Expr;
  readonly span: Span;
}

export interface Constraint {
  readonly expr: Expr;
  readonly span: Span;
}

export interface ResultType {
  /** A single type, or named/positional tuple members. */
  readonly items: { name?: string; type: TypeExpr; span: Span }[];
  readonly tuple: boolean;
  readonly span: Span;
}

export interface FnDecl {
  readonly kind: 'fn';
  readonly name: string;
  readonly nameSpan: Span;
  readonly params: Param[];
  readonly result?: ResultType;
  readonly constraints: Constraint[];
  readonly body: Block;
  readonly doc?: string;
  readonly span: Span;
}

export type Member =
  | { kind: 'weight'; name: string; nameSpan: Span; type: TypeExpr; span: Span }
  | { kind: 'submodule'; name: string; nameSpan: Span; value: Expr; span: Span }
  | { kind: 'let'; name: string; nameSpan: Span; value: Expr; span: Span }
  | { kind: 'member_if'; cond: Expr; then: Member[]; else: Member[]; span: Span }
  | { kind: 'assert'; cond: Expr; message?: Expr; span: Span }
  | FnDecl;

export interface ModuleDecl {
  readonly kind: 'module';
  readonly name: string;
  readonly nameSpan: Span;
  readonly params: Param[];
  readonly members: Member[];
  readonly doc?: string;
  readonly span: Span;
}

export interface ImportDecl {
  readonly kind: 'import';
  readonly path: string;
  readonly span: Span;
}

export interface ConstDecl {
  readonly kind: 'const';
  readonly name: string;
  readonly nameSpan: Span;
  readonly value: Expr;
  readonly span: Span;
}

export type Decl = ImportDecl | ModuleDecl | FnDecl | ConstDecl;

export interface FileAst {
  readonly path: string;
  readonly decls: Decl[];
}
