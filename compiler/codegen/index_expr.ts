/**
 * Symbolic index arithmetic for code generation: the coordinates a kernel computes with.
 *
 * Vocabulary
 * - Ix: a non-negative integer index in canonical linear form `c + Σ coef·atom`, with a known
 *   inclusive range [lo, hi]. Ix values are immutable and structurally keyed (`key`), so equal
 *   expressions are recognised (CSE) and view chains simplify by construction: a reshape that
 *   linearises and delinearises again folds back to the original coordinate.
 * - Atom: what cannot be expressed linearly: a variable (thread or loop index), or floor
 *   division, modulo, min or max of an Ix by a constant.
 * - Level: the loop depth an expression depends on (a variable's level is the depth of the
 *   scope that binds it); the emitter places each `let` at the level of its operands, which is
 *   loop-invariant code motion for free.
 *
 * Every value is an exact integer (JS numbers, far below 2^53). The generated code evaluates
 * them in u32; add, subtract and multiply wrap modulo 2^32, so intermediate wrap-around is
 * harmless as long as every final value, and every operand of a division, modulo, min or max,
 * is in [0, 2^32): `checkU32` enforces that where it matters.
 */

export interface VarAtom {
  readonly kind: 'var';
  readonly name: string;
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly key: string;
}

export interface OpAtom {
  readonly kind: 'div' | 'mod' | 'min' | 'max';
  readonly x: Ix;
  readonly c: number;
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly key: string;
}

export type Atom = VarAtom | OpAtom;

export interface Term {
  readonly atom: Atom;
  readonly coef: number;
}

export const U32_LIMIT = 2 ** 32;

export class Ix {
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly key: string;

  /** Use the functions below; terms must already be canonical (merged, sorted, non-zero). */
  constructor(readonly constant: number, readonly terms: readonly Term[]) {
    let lo = constant;
    let hi = constant;
    let level = 0;
    for (const { atom, coef } of terms) {
      if (coef > 0) { lo += coef * atom.lo; hi += coef * atom.hi; } else { lo += coef * atom.hi; hi += coef * atom.lo; }
      if (atom.level > level) level = atom.level;
    }
    this.lo = lo;
    this.hi = hi;
    this.level = level;
    this.key = terms.length === 0 ? String(constant) : `${constant}${terms.map((t) => `+${t.coef}*${t.atom.key}`).join('')}`;
  }

  get isConst(): boolean {
    return this.terms.length === 0;
  }
}

export function ixConst(c: number): Ix {
  if (!Number.isSafeInteger(c)) throw new Error(`index constant ${c} is not an integer`);
  return new Ix(c, []);
}

export const IX_ZERO = ixConst(0);

/** A variable in [lo, hi]. An empty range (code that never runs, e.g. a loop over 0 items) is treated as [lo, lo]. */
export function ixVar(name: string, lo: number, hi: number, level: number): Ix {
  if (hi <= lo) return ixConst(lo);
  const atom: VarAtom = { kind: 'var', name, lo, hi, level, key: name };
  return new Ix(0, [{ atom, coef: 1 }]);
}

/** Merge terms with equal atoms, drop zeros, sort by key, then fold div/mod recombinations. */
function canonical(constant: number, raw: readonly Term[]): Ix {
  const byKey = new Map<string, Term>();
  for (const t of raw) {
    const prev = byKey.get(t.atom.key);
    byKey.set(t.atom.key, prev ? { atom: t.atom, coef: prev.coef + t.coef } : t);
  }
  let terms = [...byKey.values()].filter((t) => t.coef !== 0);
  // Recombination: k*d*div(x, d) + k*mod(x, d) = k*x, and
  // k*d1*mod(div(x, d1), d2) + k*mod(x, d1) = k*mod(x, d1*d2). They undo a delinearisation.
  for (;;) {
    const found = findRecombination(terms);
    if (!found) break;
    const { drop, add } = found;
    const rest = terms.filter((t) => !drop.includes(t));
    const merged = ixAdd(new Ix(constant, []), add);
    const all = new Map<string, Term>();
    for (const t of [...rest, ...merged.terms]) {
      const prev = all.get(t.atom.key);
      all.set(t.atom.key, prev ? { atom: t.atom, coef: prev.coef + t.coef } : t);
    }
    constant = merged.constant;
    terms = [...all.values()].filter((t) => t.coef !== 0);
  }
  terms.sort((a, b) => (a.atom.key < b.atom.key ? -1 : a.atom.key > b.atom.key ? 1 : 0));
  return new Ix(constant, terms);
}

function findRecombination(terms: readonly Term[]): { drop: Term[]; add: Ix } | undefined {
  for (const m of terms) {
    if (m.atom.kind !== 'mod') continue;
    const { x, c: d } = m.atom;
    const k = m.coef;
    for (const q of terms) {
      if (q === m || q.coef !== k * d) continue;
      const a = q.atom;
      if (a.kind === 'div' && a.c === d && a.x.key === x.key) {
        return { drop: [m, q], add: ixScale(x, k) };
      }
      if (a.kind === 'mod' && a.x.terms.length === 1 && a.x.constant === 0 && a.x.terms[0].coef === 1) {
        const inner = a.x.terms[0].atom;
        if (inner.kind === 'div' && inner.c === d && inner.x.key === x.key) {
          return { drop: [m, q], add: ixScale(ixMod(x, d * a.c), k) };
        }
      }
    }
  }
  return undefined;
}

export function ixAdd(a: Ix, b: Ix): Ix {
  if (b.isConst) return ixAddConst(a, b.constant);
  if (a.isConst) return ixAddConst(b, a.constant);
  return canonical(a.constant + b.constant, [...a.terms, ...b.terms]);
}

export function ixAddConst(a: Ix, c: number): Ix {
  if (c === 0) return a;
  return new Ix(a.constant + c, a.terms);
}

export function ixScale(a: Ix, k: number): Ix {
  if (k === 1) return a;
  if (k === 0) return IX_ZERO;
  return new Ix(a.constant * k, a.terms.map((t) => ({ atom: t.atom, coef: t.coef * k })));
}

export function ixSub(a: Ix, b: Ix): Ix {
  return ixAdd(a, ixScale(b, -1));
}

/** Sum of `coef_i * x_i`, the usual linearisation `Σ coord_k * stride_k`. */
export function ixDot(xs: readonly Ix[], coefs: readonly number[]): Ix {
  let acc = IX_ZERO;
  for (let i = 0; i < xs.length; i++) acc = ixAdd(acc, ixScale(xs[i], coefs[i]));
  return acc;
}

function atomIx(atom: OpAtom): Ix {
  return new Ix(0, [{ atom, coef: 1 }]);
}

function opAtom(kind: OpAtom['kind'], x: Ix, c: number, lo: number, hi: number): Ix {
  const key = `${kind}(${x.key},${c})`;
  return atomIx({ kind, x, c, lo, hi, level: x.level, key });
}

/**
 * Split x into (multiple of d) + r with r.lo in [0, d): returns the multiple divided by d (an
 * Ix) and r. Exact for floor division: floor((d*Q + r) / d) = Q + floor(r / d).
 */
function splitByDivisor(x: Ix, d: number): { q: Ix; r: Ix } {
  const qTerms: Term[] = [];
  const rTerms: Term[] = [];
  for (const t of x.terms) {
    if (t.coef % d === 0) qTerms.push({ atom: t.atom, coef: t.coef / d });
    else rTerms.push(t);
  }
  let r = new Ix(x.constant, rTerms);
  const shift = Math.floor(r.lo / d);
  r = ixAddConst(r, -shift * d);
  const q = ixAddConst(qTerms.length ? canonical(0, qTerms) : IX_ZERO, shift);
  return { q, r };
}

const gcd = (a: number, b: number): number => {
  a = Math.abs(a); b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
};

/**
 * Mixed-radix split: x = g·B + r with g > 1 dividing d, B an Ix, and 0 <= r < g. Then
 * floor(x / d) = floor(B / (d/g)) and x mod d = g·(B mod (d/g)) + r. This is what proves, for
 * example, that (c·THW + t·HW + h·W + w) / (2·THW) is c / 2 when t·HW + h·W + w < THW.
 */
function radixSplit(x: Ix, d: number): { g: number; big: Ix; r: Ix } | undefined {
  const terms = [...x.terms].sort((a, b) => Math.abs(b.coef) - Math.abs(a.coef));
  let best: { g: number; big: Ix; r: Ix } | undefined;
  let g = d;
  for (let split = 1; split <= terms.length; split++) {
    g = gcd(g, terms[split - 1].coef);
    if (g <= 1) break;
    const r = new Ix(x.constant, terms.slice(split));
    if (r.lo < 0 || r.hi >= g) continue;
    if (!best || g > best.g) {
      const big = canonical(0, terms.slice(0, split).map((t) => ({ atom: t.atom, coef: t.coef / g })));
      best = { g, big, r: canonical(r.constant, r.terms) };
    }
  }
  return best;
}

/** floor(x / d) for x >= 0, d >= 1. */
export function ixDiv(x: Ix, d: number): Ix {
  if (!Number.isSafeInteger(d) || d < 1) throw new Error(`index division by ${d}`);
  if (d === 1) return x;
  if (x.isConst) return ixConst(Math.floor(x.constant / d));
  const { q, r } = splitByDivisor(x, d);
  if (r.hi < d) return q;
  const rs = radixSplit(r, d);
  if (rs && rs.g > 1 && rs.big.lo >= 0) return ixAdd(q, ixDiv(rs.big, d / rs.g));
  // div(div(y, a), d) = div(y, a * d).
  let inner: Ix;
  if (r.constant === 0 && r.terms.length === 1 && r.terms[0].coef === 1 && r.terms[0].atom.kind === 'div') {
    const a = r.terms[0].atom;
    inner = ixDiv(a.x, a.c * d);
  } else {
    inner = opAtom('div', r, d, Math.floor(r.lo / d), Math.floor(r.hi / d));
  }
  return ixAdd(q, inner);
}

/** x mod d for x >= 0, d >= 1. */
export function ixMod(x: Ix, d: number): Ix {
  if (!Number.isSafeInteger(d) || d < 1) throw new Error(`index modulo by ${d}`);
  if (d === 1) return IX_ZERO;
  if (x.isConst) return ixConst(((x.constant % d) + d) % d);
  const { r } = splitByDivisor(x, d);
  if (r.hi < d) return r;
  const rs = radixSplit(r, d);
  if (rs && rs.g > 1 && rs.big.lo >= 0) return ixAdd(ixScale(ixMod(rs.big, d / rs.g), rs.g), rs.r);
  // mod(mod(y, a), d) = mod(y, d) when d divides a.
  if (r.constant === 0 && r.terms.length === 1 && r.terms[0].coef === 1 && r.terms[0].atom.kind === 'mod' && r.terms[0].atom.c % d === 0) {
    return ixMod(r.terms[0].atom.x, d);
  }
  return opAtom('mod', r, d, 0, Math.min(d - 1, r.hi));
}

export function ixMin(x: Ix, c: number): Ix {
  if (x.hi <= c) return x;
  if (x.lo >= c) return ixConst(c);
  return opAtom('min', x, c, x.lo, c);
}

export function ixMax(x: Ix, c: number): Ix {
  if (x.lo >= c) return x;
  if (x.hi <= c) return ixConst(c);
  return opAtom('max', x, c, c, x.hi);
}

/** Clamp into [lo, hi]. */
export function ixClamp(x: Ix, lo: number, hi: number): Ix {
  return ixMin(ixMax(x, lo), hi);
}

/**
 * Row-major coordinates of a linear index over `shape`. Size-1 axes get 0; the outermost axis
 * needs no modulo (the caller guarantees the index is in range).
 */
export function ixDelinearize(lin: Ix, shape: readonly number[]): Ix[] {
  const out: Ix[] = new Array<Ix>(shape.length);
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k];
    // Size 1 is always 0; size 0 never runs (any coordinate will do).
    if (d <= 1) out[k] = IX_ZERO;
    else out[k] = k === 0 ? ixDiv(lin, stride) : ixMod(ixDiv(lin, stride), d);
    stride *= Math.max(1, d);
  }
  return out;
}

export function ixLinearize(coords: readonly Ix[], shape: readonly number[]): Ix {
  let acc = IX_ZERO;
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    if (shape[k] !== 1) acc = ixAdd(acc, ixScale(coords[k], stride));
    stride *= shape[k];
  }
  return acc;
}

/** Evaluate with concrete variable values (for tests and constant checks). */
export function evalIx(x: Ix, env: ReadonlyMap<string, number>): number {
  let v = x.constant;
  for (const { atom, coef } of x.terms) v += coef * evalAtom(atom, env);
  return v;
}

function evalAtom(a: Atom, env: ReadonlyMap<string, number>): number {
  if (a.kind === 'var') {
    const v = env.get(a.name);
    if (v === undefined) throw new Error(`evalIx: no value for ${a.name}`);
    return v;
  }
  const x = evalIx(a.x, env);
  switch (a.kind) {
    case 'div': return Math.floor(x / a.c);
    case 'mod': return ((x % a.c) + a.c) % a.c;
    case 'min': return Math.min(x, a.c);
    case 'max': return Math.max(x, a.c);
  }
}

/** Whether every value the expression can take is a valid u32. */
export function fitsU32(x: Ix): boolean {
  return x.lo >= 0 && x.hi < U32_LIMIT;
}
