/**
 * TensorBackend: what the elaborator calls to build tensors when a program is traced with
 * concrete shapes (binding). The compiler implements it with its GraphBuilder, so tracing a
 * Kiln function yields graph IR; the dsl itself never depends on the compiler. Every call has
 * already been type-checked: shapes are concrete and valid. Handles are opaque to the dsl.
 *
 * The op vocabulary mirrors the IR's primitive set (compiler/ir.ts); views never copy.
 */
export type BackendDType = 'f32' | 'f16' | 'i32' | 'bool';

export type BackendUnary =
  | 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'recip'
  | 'sin' | 'cos' | 'tanh' | 'floor' | 'ceil' | 'not';

export type BackendBinary =
  | 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'pow' | 'mod'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';

export interface BackendOrigin {
  readonly op: string;
  readonly path: string;
  readonly loc?: string;
}

export interface TensorBackend<H = unknown> {
  withOrigin<T>(origin: BackendOrigin, fn: () => T): T;
  input(name: string, shape: readonly number[], dtype: BackendDType, kind: 'input' | 'weight'): H;
  const(value: number, shape: readonly number[], dtype: BackendDType): H;
  iota(shape: readonly number[], axis: number): H;
  random(shape: readonly number[], dist: 'normal' | 'uniform', seed: number, dtype: BackendDType): H;
  unary(fn: BackendUnary, x: H): H;
  binary(fn: BackendBinary, a: H, b: H): H;
  where(cond: H, a: H, b: H): H;
  cast(x: H, dtype: BackendDType): H;
  reduce(fn: 'sum' | 'max', x: H, axes: readonly number[]): H;
  reshape(x: H, shape: readonly number[]): H;
  permute(x: H, perm: readonly number[]): H;
  expand(x: H, shape: readonly number[]): H;
  slice(x: H, start: readonly number[], count: readonly number[], step?: readonly number[]): H;
  pad(x: H, pads: readonly (readonly [number, number])[], mode: 'constant' | 'replicate', value?: number): H;
  concat(xs: readonly H[], axis: number): H;
  repeat(x: H, factors: readonly number[]): H;
  /** Rows of `table` [V, ...R] picked by i32 `ids` [...I]: [...I, ...R]. */
  gather(table: H, ids: H): H;
  matmul(a: H, b: H): H;
  conv(x: H, w: H, stride: readonly number[]): H;
}
