/**
 * Dimension expressions: integer polynomials over size variables, in a canonical form, so two
 * shapes are equal exactly when their canonical forms are. Floor division and modulo that
 * cannot be simplified become opaque atoms (`(T - 1) // 2`), themselves canonical.
 *
 * Vocabulary
 * - Atom: a size variable (`T`), a config list element (`channels[i]`), or an irreducible
 *   `a // b` / `a % b`.
 * - Term: an integer coefficient times a product of atoms (a monomial).
 * - Dim: a sum of terms, sorted and merged; a constant Dim has only the empty monomial.
 *
 * Simplification rules (valid for all integer values of the variables):
 *   (c*Q + R) // c = Q + R // c   and   (c*Q + R) % c = R % c   (c a positive constant),
 * with R the remainders of the coefficients, so `(4*k + 1 - 1) // 4 = k` and `(2*n) % 2 = 0`.
 * Divisibility facts are best stated by reparametrising (T = 4*k + 1; see `reparametrize`).
 */

export type Atom =
  | { readonly kind: 'sym'; readonly name: string; readonly key: string }
  | { readonly kind: 'index'; readonly list: string; readonly index: Dim; readonly key: string }
  | { readonly kind: 'floordiv' | 'mod'; readonly num: Dim; readonly den: Dim; readonly key: string };

interface Term {
  readonly coef: number;
  /** Sorted by key; repeated atoms are powers. */
  readonly atoms: readonly Atom[];
  readonly mono: string;
}

export class DimError extends Error {
  override name = 'DimError';
}

const monoKey = (atoms: readonly Atom[]): string => atoms.map((a) => a.key).join('*');

export class Dim {
  readonly key: string;

  private constructor(readonly terms: readonly Term[]) {
    this.key = terms.length === 0 ? '0' : terms.map((t) => `${t.coef}${t.mono ? '*' + t.mono : ''}`).join('+');
  }

  private static fromTerms(terms: Term[]): Dim {
    const merged = new Map<string, Term>();
    for (const t of terms) {
      if (t.coef === 0) continue;
      const prev = merged.get(t.mono);
      merged.set(t.mono, prev ? { ...prev, coef: prev.coef + t.coef } : t);
    }
    const out = [...merged.values()].filter((t) => t.coef !== 0);
    // Higher degree first, then by key; constants last.
    out.sort((a, b) => (b.atoms.length - a.atoms.length) || (a.mono < b.mono ? -1 : a.mono > b.mono ? 1 : 0));
    return new Dim(out);
  }

  static of(n: number): Dim {
    if (!Number.isSafeInteger(n)) throw new DimError(`dimension ${n} is not an integer`);
    return Dim.fromTerms([{ coef: n, atoms: [], mono: '' }]);
  }

  static sym(name: string): Dim {
    return Dim.atom({ kind: 'sym', name, key: name });
  }

  static index(list: string, index: Dim): Dim {
    return Dim.atom({ kind: 'index', list, index, key: `${list}[${index.key}]` });
  }

  private static atom(a: Atom): Dim {
    return Dim.fromTerms([{ coef: 1, atoms: [a], mono: a.key }]);
  }

  /** The value when constant, else undefined. */
  get value(): number | undefined {
    if (this.terms.length === 0) return 0;
    if (this.terms.length === 1 && this.terms[0].atoms.length === 0) return this.terms[0].coef;
    return undefined;
  }

  get isConst(): boolean {
    return this.value !== undefined;
  }

  /** The constant term. */
  get constant(): number {
    const t = this.terms[this.terms.length - 1];
    return t && t.atoms.length === 0 ? t.coef : 0;
  }

  equals(o: Dim): boolean {
    return this.key === o.key;
  }

  add(o: Dim | number): Dim {
    const b = typeof o === 'number' ? Dim.of(o) : o;
    return Dim.fromTerms([...this.terms, ...b.terms]);
  }

  neg(): Dim {
    return Dim.fromTerms(this.terms.map((t) => ({ ...t, coef: -t.coef })));
  }

  sub(o: Dim | number): Dim {
    return this.add(typeof o === 'number' ? Dim.of(-o) : o.neg());
  }

  mul(o: Dim | number): Dim {
    const b = typeof o === 'number' ? Dim.of(o) : o;
    const terms: Term[] = [];
    for (const x of this.terms) {
      for (const y of b.terms) {
        const atoms = [...x.atoms, ...y.atoms].sort((p, q) => (p.key < q.key ? -1 : p.key > q.key ? 1 : 0));
        const coef = x.coef * y.coef;
        if (!Number.isSafeInteger(coef)) throw new DimError('dimension arithmetic overflowed');
        terms.push({ coef, atoms, mono: monoKey(atoms) });
      }
    }
    return Dim.fromTerms(terms);
  }

  /** Floor division (Python's //). */
  floorDiv(o: Dim | number): Dim {
    const b = typeof o === 'number' ? Dim.of(o) : o;
    const c = b.value;
    if (c === 0) throw new DimError(`division by zero in ${this} // ${b}`);
    if (c !== undefined && c > 0) {
      if (c === 1) return this;
      const v = this.value;
      if (v !== undefined) return Dim.of(Math.floor(v / c));
      const { q, r } = this.splitBy(c);
      const rv = r.value;
      if (rv !== undefined) return q.add(Math.floor(rv / c));
      return q.add(Dim.atom({ kind: 'floordiv', num: r, den: b, key: `(${r.key})//(${b.key})` }));
    }
    const exact = this.exactDiv(b);
    if (exact) return exact;
    return Dim.atom({ kind: 'floordiv', num: this, den: b, key: `(${this.key})//(${b.key})` });
  }

  /** Floor modulo (Python's %): the result has the sign of the divisor. */
  mod(o: Dim | number): Dim {
    const b = typeof o === 'number' ? Dim.of(o) : o;
    const c = b.value;
    if (c === 0) throw new DimError(`modulo by zero in ${this} % ${b}`);
    if (c !== undefined && c > 0) {
      if (c === 1) return Dim.of(0);
      const { r } = this.splitBy(c);
      const rv = r.value;
      if (rv !== undefined) return Dim.of(((rv % c) + c) % c);
      return Dim.atom({ kind: 'mod', num: r, den: b, key: `(${r.key})%(${b.key})` });
    }
    if (this.exactDiv(b)) return Dim.of(0);
    return Dim.atom({ kind: 'mod', num: this, den: b, key: `(${this.key})%(${b.key})` });
  }

  /** this = c*q + r with every coefficient of r in [0, c). */
  private splitBy(c: number): { q: Dim; r: Dim } {
    const qs: Term[] = [];
    const rs: Term[] = [];
    for (const t of this.terms) {
      const r = ((t.coef % c) + c) % c;
      const q = (t.coef - r) / c;
      if (q !== 0) qs.push({ ...t, coef: q });
      if (r !== 0) rs.push({ ...t, coef: r });
    }
    return { q: Dim.fromTerms(qs), r: Dim.fromTerms(rs) };
  }

  /** The exact quotient when `b` is a single term dividing every term of this, else undefined. */
  private exactDiv(b: Dim): Dim | undefined {
    if (b.terms.length !== 1) return undefined;
    const [d] = b.terms;
    const out: Term[] = [];
    for (const t of this.terms) {
      if (t.coef % d.coef !== 0) return undefined;
      const rest = [...t.atoms];
      for (const a of d.atoms) {
        const i = rest.findIndex((x) => x.key === a.key);
        if (i < 0) return undefined;
        rest.splice(i, 1);
      }
      out.push({ coef: t.coef / d.coef, atoms: rest, mono: monoKey(rest) });
    }
    return Dim.fromTerms(out);
  }

  /** Free variable names (symbols and list names). */
  symbols(into = new Set<string>()): Set<string> {
    for (const t of this.terms) {
      for (const a of t.atoms) {
        if (a.kind === 'sym') into.add(a.name);
        else if (a.kind === 'index') { into.add(a.list); a.index.symbols(into); }
        else { a.num.symbols(into); a.den.symbols(into); }
      }
    }
    return into;
  }

  /** Replace symbols (and list elements) and re-simplify. */
  substitute(env: DimEnv): Dim {
    let acc = Dim.of(0);
    for (const t of this.terms) {
      let term = Dim.of(t.coef);
      for (const a of t.atoms) term = term.mul(substituteAtom(a, env));
      acc = acc.add(term);
    }
    return acc;
  }

  toString(): string {
    if (this.terms.length === 0) return '0';
    let s = '';
    this.terms.forEach((t, i) => {
      const mag = Math.abs(t.coef);
      const body = t.atoms.length === 0 ? String(mag) : `${mag === 1 ? '' : `${mag}*`}${printAtoms(t.atoms)}`;
      if (i === 0) s = t.coef < 0 ? `-${body}` : body;
      else s += t.coef < 0 ? ` - ${body}` : ` + ${body}`;
    });
    return s;
  }
}

export interface DimEnv {
  sym(name: string): Dim | undefined;
  index?(list: string, index: Dim): Dim | undefined;
}

function substituteAtom(a: Atom, env: DimEnv): Dim {
  switch (a.kind) {
    case 'sym': return env.sym(a.name) ?? Dim.sym(a.name);
    case 'index': {
      const idx = a.index.substitute(env);
      return env.index?.(a.list, idx) ?? Dim.index(a.list, idx);
    }
    case 'floordiv': return a.num.substitute(env).floorDiv(a.den.substitute(env));
    case 'mod': return a.num.substitute(env).mod(a.den.substitute(env));
  }
}

function printAtom(a: Atom): string {
  switch (a.kind) {
    case 'sym': return a.name;
    case 'index': return `${a.list}[${a.index}]`;
    case 'floordiv': return `${wrap(a.num)} // ${wrap(a.den)}`;
    case 'mod': return `${wrap(a.num)} % ${wrap(a.den)}`;
  }
}

function wrap(d: Dim): string {
  const s = d.toString();
  return d.terms.length > 1 || (d.terms.length === 1 && d.terms[0].atoms.length > 0 && d.terms[0].coef !== 1) ? `(${s})` : s;
}

function printAtoms(atoms: readonly Atom[]): string {
  const parts: string[] = [];
  for (let i = 0; i < atoms.length;) {
    let j = i;
    while (j < atoms.length && atoms[j].key === atoms[i].key) j++;
    const base = printAtom(atoms[i]);
    const compound = atoms[i].kind === 'floordiv' || atoms[i].kind === 'mod';
    const shown = compound && atoms.length > 1 ? `(${base})` : base;
    parts.push(j - i > 1 ? `${shown}^${j - i}` : shown);
    i = j;
  }
  return parts.join('*');
}

/** A shape: one Dim per axis. */
export type Shape = readonly Dim[];

export function shapeToString(s: Shape): string {
  return `[${s.map(String).join(', ')}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d.equals(b[i]));
}

/** How two integers compare, as far as their canonical forms can tell. */
export function compareDims(a: Dim, b: Dim): 'equal' | 'different' | 'unknown' {
  if (a.equals(b)) return 'equal';
  const diff = a.sub(b);
  return diff.isConst ? 'different' : 'unknown';
}

/**
 * How two sizes compare, assuming every size variable and config list element is >= 1 (as
 * JAX's shape polymorphism does): a difference whose terms are all products of such
 * variables, with coefficients of one sign, cannot be zero (6*B vs 4*B, 2*C vs C).
 */
export function compareSizes(a: Dim, b: Dim): 'equal' | 'different' | 'unknown' {
  const c = compareDims(a, b);
  if (c !== 'unknown') return c;
  const diff = a.sub(b);
  const plain = diff.terms.every((t) => t.atoms.every((x) => x.kind === 'sym' || x.kind === 'index'));
  if (!plain) return 'unknown';
  const positive = diff.terms.every((t) => t.coef > 0);
  const negative = diff.terms.every((t) => t.coef < 0);
  return positive || negative ? 'different' : 'unknown';
}

/**
 * The substitution that states `sym % m == r`: sym = m * q + r with a fresh variable q, shown
 * as `⌊sym/m⌋` so messages read naturally (e.g. (T - 1) // 4 + 1 becomes ⌊T/4⌋ + 1).
 */
export function reparametrize(sym: string, m: Dim, r: Dim): { fresh: string; value: Dim } {
  const fresh = `⌊${sym}/${m}⌋`;
  const mv = m.value;
  const rv = r.value;
  const rem = mv !== undefined && rv !== undefined && mv > 0 ? Dim.of(((rv % mv) + mv) % mv) : r;
  return { fresh, value: Dim.sym(fresh).mul(m).add(rem) };
}
