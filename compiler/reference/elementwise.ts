/**
 * Elementwise primitives of the reference interpreter: unary, binary, where and cast over flat
 * Float64Arrays of equal length. The dtype that matters is the operands' dtype: i32 results
 * wrap to 32-bit two's complement, bool values are 0/1, float math is plain float64.
 *
 * Each operation has its own tight loop (the switch is outside the loop) so the common float
 * case costs one array pass; the integer loops add only `| 0` or `Math.imul`.
 */
import type { BinaryFn, DType, UnaryFn } from '../ir.ts';
import { roundToF16 } from '../f16.ts';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

export function evalUnary(fn: UnaryFn, dtype: DType, x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  if (dtype === 'i32') {
    switch (fn) {
      case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i] | 0; return out;
      case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]) | 0; return out;
      default: throw new Error(`reference interpreter: unary ${fn} is not defined on i32`);
    }
  }
  switch (fn) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]; break;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]); break;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]); break;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]); break;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]); break;
    case 'rsqrt': for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]); break;
    case 'recip': for (let i = 0; i < n; i++) out[i] = 1 / x[i]; break;
    case 'sin': for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]); break;
    case 'cos': for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]); break;
    case 'tanh': for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]); break;
    case 'floor': for (let i = 0; i < n; i++) out[i] = Math.floor(x[i]); break;
    case 'ceil': for (let i = 0; i < n; i++) out[i] = Math.ceil(x[i]); break;
    case 'not': for (let i = 0; i < n; i++) out[i] = x[i] === 0 ? 1 : 0; break;
    default: {
      const never: never = fn;
      throw new Error(`reference interpreter: unknown unary ${String(never)}`);
    }
  }
  return out;
}

/** Comparisons and logic: the same on every dtype (NaN compares false except `ne`). */
function evalPredicate(fn: BinaryFn, a: Float64Array, b: Float64Array, out: Float64Array): boolean {
  const n = out.length;
  switch (fn) {
    case 'lt': for (let i = 0; i < n; i++) out[i] = a[i] < b[i] ? 1 : 0; return true;
    case 'le': for (let i = 0; i < n; i++) out[i] = a[i] <= b[i] ? 1 : 0; return true;
    case 'gt': for (let i = 0; i < n; i++) out[i] = a[i] > b[i] ? 1 : 0; return true;
    case 'ge': for (let i = 0; i < n; i++) out[i] = a[i] >= b[i] ? 1 : 0; return true;
    case 'eq': for (let i = 0; i < n; i++) out[i] = a[i] === b[i] ? 1 : 0; return true;
    case 'ne': for (let i = 0; i < n; i++) out[i] = a[i] !== b[i] ? 1 : 0; return true;
    case 'and': for (let i = 0; i < n; i++) out[i] = a[i] !== 0 && b[i] !== 0 ? 1 : 0; return true;
    case 'or': for (let i = 0; i < n; i++) out[i] = a[i] !== 0 || b[i] !== 0 ? 1 : 0; return true;
    default: return false;
  }
}

/**
 * Integer floor division, wrapped to i32. Dividing by zero yields the dividend and
 * -2^31 / -1 wraps to -2^31, as WGSL's integer `/` does. For |a| < 2^31 the float64
 * quotient never rounds across an integer, so `Math.floor(a / b)` is the exact floor.
 */
export function i32FloorDiv(a: number, b: number): number {
  if (b === 0) return a;
  return Math.floor(a / b) | 0;
}

/** Integer floor modulo: the result has the divisor's sign; modulo zero yields 0 (as WGSL's `%`). */
export function i32FloorMod(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r + 0;
}

function evalI32(fn: BinaryFn, a: Float64Array, b: Float64Array, out: Float64Array): void {
  const n = out.length;
  switch (fn) {
    case 'add': for (let i = 0; i < n; i++) out[i] = (a[i] + b[i]) | 0; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = (a[i] - b[i]) | 0; return;
    // A float64 product of two i32 can exceed 2^53 and lose the low bits; imul cannot.
    case 'mul': for (let i = 0; i < n; i++) out[i] = Math.imul(a[i], b[i]); return;
    case 'div': for (let i = 0; i < n; i++) out[i] = i32FloorDiv(a[i], b[i]); return;
    case 'mod': for (let i = 0; i < n; i++) out[i] = i32FloorMod(a[i], b[i]); return;
    case 'max': for (let i = 0; i < n; i++) out[i] = Math.max(a[i], b[i]); return;
    case 'min': for (let i = 0; i < n; i++) out[i] = Math.min(a[i], b[i]); return;
    default: throw new Error(`reference interpreter: binary ${fn} is not defined on i32`);
  }
}

function evalFloat(fn: BinaryFn, a: Float64Array, b: Float64Array, out: Float64Array): void {
  const n = out.length;
  switch (fn) {
    case 'add': for (let i = 0; i < n; i++) out[i] = a[i] + b[i]; return;
    case 'sub': for (let i = 0; i < n; i++) out[i] = a[i] - b[i]; return;
    case 'mul': for (let i = 0; i < n; i++) out[i] = a[i] * b[i]; return;
    case 'div': for (let i = 0; i < n; i++) out[i] = a[i] / b[i]; return;
    // Math.max/min already propagate NaN.
    case 'max': for (let i = 0; i < n; i++) out[i] = Math.max(a[i], b[i]); return;
    case 'min': for (let i = 0; i < n; i++) out[i] = Math.min(a[i], b[i]); return;
    case 'pow': for (let i = 0; i < n; i++) out[i] = Math.pow(a[i], b[i]); return;
    case 'mod': for (let i = 0; i < n; i++) { const x = a[i], y = b[i]; out[i] = x - y * Math.floor(x / y); } return;
    default: throw new Error(`reference interpreter: binary ${fn} is not defined on floats`);
  }
}

/** `operandDtype` is the dtype of a and b (a comparison's result is bool regardless). */
export function evalBinary(fn: BinaryFn, operandDtype: DType, a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  if (evalPredicate(fn, a, b, out)) return out;
  if (operandDtype === 'i32') evalI32(fn, a, b, out);
  else evalFloat(fn, a, b, out);
  return out;
}

export function evalWhere(cond: Float64Array, a: Float64Array, b: Float64Array): Float64Array {
  const n = cond.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = cond[i] !== 0 ? a[i] : b[i];
  return out;
}

/** Float -> i32: truncate toward zero, NaN -> 0, saturate at the i32 bounds (as WGSL does). */
export function toI32(v: number): number {
  if (v !== v) return 0;
  if (v <= I32_MIN) return I32_MIN;
  if (v >= I32_MAX) return I32_MAX;
  return Math.trunc(v) + 0;
}

export function evalCast(to: DType, from: DType, x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  switch (to) {
    case 'f32':
      // Every f16, i32 and bool value is exact in float64; f32 is not rounded (exact oracle).
      out.set(x);
      break;
    case 'f16':
      if (from === 'bool') out.set(x);
      else for (let i = 0; i < n; i++) out[i] = roundToF16(x[i]);
      break;
    case 'i32':
      if (from === 'bool') out.set(x);
      else for (let i = 0; i < n; i++) out[i] = toI32(x[i]);
      break;
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = x[i] !== 0 ? 1 : 0;
      break;
    default: {
      const never: never = to;
      throw new Error(`reference interpreter: unknown dtype ${String(never)}`);
    }
  }
  return out;
}
