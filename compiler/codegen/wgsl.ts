/**
 * WGSL spelling of Kiln's types and constants, and the helper functions generated kernels may
 * call. Vocabulary: the *value type* is what a kernel computes with (f16 values are computed
 * in f32: the reference interpreter rounds only at casts), the *storage type* is the element
 * type of a storage buffer (bool is stored as u32).
 */
import type { DType } from '../ir.ts';
import { PHILOX_M0, PHILOX_M1, PHILOX_ROUNDS, PHILOX_W0, PHILOX_W1 } from '../random.ts';

export type ValueType = 'f32' | 'i32' | 'bool';

export function valueType(d: DType): ValueType {
  return d === 'i32' ? 'i32' : d === 'bool' ? 'bool' : 'f32';
}

export function storageType(d: DType): string {
  switch (d) {
    case 'f32': return 'f32';
    case 'f16': return 'f16';
    case 'i32': return 'i32';
    case 'bool': return 'u32';
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** f32 bit pattern of `v` (rounded to f32) as a WGSL u32 literal. */
function f32Bits(v: number): string {
  f32buf[0] = v;
  return `0x${u32buf[0].toString(16)}u`;
}

/**
 * A WGSL f32 expression for `v`, rounded to f32. Non-finite values come from their bit
 * pattern through a function call: WGSL rejects infinities and NaN in constant expressions.
 */
export function f32Literal(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) return `kiln_bits(${f32Bits(f)})`;
  if (Object.is(f, -0)) return '(-0.0f)';
  // The shortest decimal of the f64 that holds this f32 parses back to exactly it.
  let s = String(f);
  if (!/[.e]/.test(s)) s += '.0';
  return f < 0 ? `(${s}f)` : `${s}f`;
}

export function i32Literal(v: number): string {
  const i = v | 0;
  if (i === -2147483648) return 'bitcast<i32>(0x80000000u)';
  return i < 0 ? `(${i}i)` : `${i}i`;
}

export function u32Literal(v: number): string {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new Error(`u32 literal out of range: ${v}`);
  return `${v}u`;
}

export function literal(v: number, d: DType): string {
  switch (valueType(d)) {
    case 'f32': return f32Literal(v);
    case 'i32': return i32Literal(v);
    case 'bool': return v ? 'true' : 'false';
  }
}

/** The most negative value of a type: the identity of a max reduction. */
export function lowestLiteral(d: DType): string {
  return valueType(d) === 'i32' ? 'bitcast<i32>(0x80000000u)' : f32Literal(-Infinity);
}

/** Named helper functions; a kernel includes the ones it uses (and their dependencies). */
export type Helper = 'bits' | 'idiv' | 'imod' | 'fmod' | 'pow' | 'tanh' | 'philox' | 'to_f16';

const HELPER_DEPS: { readonly [K in Helper]?: readonly Helper[] } = { pow: ['bits'] };

const HELPER_SOURCE: { readonly [K in Helper]: string } = {
  // Not a constant expression, so infinities and NaN survive shader compilation.
  bits: `fn kiln_bits(b: u32) -> f32 {
  return bitcast<f32>(b);
}`,
  // Floor division and modulo on i32 (WGSL's are truncating); x / 0 = x and x % 0 = 0 as in
  // the reference interpreter.
  idiv: `fn kiln_idiv(a: i32, b: i32) -> i32 {
  if (b == 0i) { return a; }
  let q = a / b;
  if ((a % b != 0i) && ((a < 0i) != (b < 0i))) { return q - 1i; }
  return q;
}`,
  imod: `fn kiln_imod(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  let r = a % b;
  if ((r != 0i) && ((r < 0i) != (b < 0i))) { return r + b; }
  return r;
}`,
  fmod: `fn kiln_fmod(a: f32, b: f32) -> f32 {
  return a - b * floor(a / b);
}`,
  // Real powers as Math.pow defines them: negative bases only for integer exponents.
  pow: `fn kiln_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0f) { return 1.0f; }
  let ax = abs(x);
  var r: f32;
  if (ax == 0.0f) {
    r = select(kiln_bits(0x7f800000u), 0.0f, y > 0.0f);
  } else {
    r = exp2(y * log2(ax));
  }
  if (x >= 0.0f) { return r; }
  if (floor(y) != y) { return kiln_bits(0x7fc00000u); }
  let half = y * 0.5f;
  return select(r, -r, floor(half) != half);
}`,
  // tanh saturates to +-1 in f32 long before |x| = 15; clamping keeps exp-based
  // implementations from overflowing to NaN.
  tanh: `fn kiln_tanh(x: f32) -> f32 {
  return tanh(clamp(x, -15.0f, 15.0f));
}`,
  philox: `fn kiln_mulhi(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let carry = ((ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu)) >> 16u;
  return ah * bh + (lh >> 16u) + (hl >> 16u) + carry;
}
// Philox4x32-${PHILOX_ROUNDS} with key (seed, 0) and counter (i, 0, 0, 0); returns words 0 and 1.
fn kiln_philox(i: u32, seed: u32) -> vec2<u32> {
  var c0 = i;
  var c1 = 0u;
  var c2 = 0u;
  var c3 = 0u;
  var k0 = seed;
  var k1 = 0u;
  for (var round = 0u; round < ${PHILOX_ROUNDS}u; round++) {
    if (round > 0u) {
      k0 = k0 + ${u32Literal(PHILOX_W0)};
      k1 = k1 + ${u32Literal(PHILOX_W1)};
    }
    let hi0 = kiln_mulhi(${u32Literal(PHILOX_M0)}, c0);
    let lo0 = ${u32Literal(PHILOX_M0)} * c0;
    let hi1 = kiln_mulhi(${u32Literal(PHILOX_M1)}, c2);
    let lo1 = ${u32Literal(PHILOX_M1)} * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  return vec2<u32>(c0, c1);
}
fn kiln_uniform(i: u32, seed: u32) -> f32 {
  return f32(kiln_philox(i, seed).x >> 8u) * ${f32Literal(2 ** -24)};
}
fn kiln_normal(i: u32, seed: u32) -> f32 {
  let w = kiln_philox(i, seed);
  let u1 = f32((w.x >> 8u) + 1u) * ${f32Literal(2 ** -24)};
  let u2 = f32(w.y >> 8u) * ${f32Literal(2 ** -24)};
  // ln(u1) near 1 is tiny, and WGSL bounds log's error there only absolutely (2^-21): for
  // v = 1 - u1 < 1/16 (exact in f32) the series -(v + v^2/2 + ... + v^6/6) is used instead,
  // whose truncation is below f32's rounding.
  let v = 1.0f - u1;
  let series = -v * (1.0f + v * (0.5f + v * (${f32Literal(1 / 3)} + v * (0.25f + v * (0.2f + v * ${f32Literal(1 / 6)})))));
  let ln_u1 = select(log(u1), series, v < 0.0625f);
  // cos(2 pi u2) = -cos(2 pi (u2 - 1/2)): an argument in [-pi, pi), the only range where WGSL
  // bounds cos's error; u2 - 0.5 is exact in f32.
  return -sqrt(-2.0f * ln_u1) * cos(${f32Literal(2 * Math.PI)} * (u2 - 0.5f));
}`,
  // Round an f32 to the nearest f16 value, kept as f32 (pack2x16float is core WGSL).
  to_f16: `fn kiln_to_f16(x: f32) -> f32 {
  return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0f))).x;
}`,
};

export function helperSource(used: ReadonlySet<Helper>): string {
  const all = new Set<Helper>();
  const visit = (h: Helper): void => {
    if (all.has(h)) return;
    for (const d of HELPER_DEPS[h] ?? []) visit(d);
    all.add(h);
  };
  for (const h of used) visit(h);
  return [...all].map((h) => HELPER_SOURCE[h]).join('\n\n');
}
