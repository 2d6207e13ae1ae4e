/**
 * ValueEmitter: the WGSL value of any node at symbolic coordinates.
 *
 * Vocabulary
 * - Coordinates: one Ix per axis of the node's shape.
 * - Stored node: a materialised node; its value is a load from its tensor's binding at the
 *   row-major linear index of the coordinates.
 * - Inlined node: everything else, emitted as an expression of its operands. Views transform
 *   the coordinates and recurse (no code of their own): reshape re-linearises, permute
 *   reorders, expand pins broadcast axes to 0, slice is start + i*step, replicate pad clamps,
 *   constant pad selects the pad value outside (with a clamped, always-safe load), concat
 *   selects among its parts (each with clamped coordinates), repeat divides.
 * - Binding: a value fixed by the kernel for a node at given coordinates (an accumulator for
 *   an anchor) or at any coordinates (a row chain's per-row result).
 * Every computed value is a `let` placed at the level of its operands and reused by key.
 */
import type { BinaryNode, DType, Node, UnaryNode } from '../ir.ts';
import { describeOrigin } from '../passes/errors.ts';
import {
  type Ix, IX_ZERO, ixAddConst, ixClamp, ixDelinearize, ixDiv, ixLinearize, ixMax, ixMin, ixScale,
} from './index_expr.ts';
import { literal, valueType } from './wgsl.ts';
import type { KernelWriter } from './writer.ts';

export interface Value {
  readonly code: string;
  readonly level: number;
}

export interface Storage {
  /** The tensor holding a stored node (after aliasing), or undefined if the node is inlined. */
  tensorOf(n: Node): number | undefined;
}

const coordsKey = (n: Node, c: readonly Ix[]): string => `v${n.id}@${c.map((x) => x.key).join(',')}`;

const maxLevel = (vs: readonly (Value | Ix)[]): number => vs.reduce((m, v) => Math.max(m, v.level), 0);

export class ValueEmitter {
  private readonly levels = new Map<string, number>();
  private readonly anyCoords = new Map<number, Value>();
  /** Nodes computed here (not loaded), for the kernel's list of source ops. */
  readonly origins: string[] = [];
  private readonly originSet = new Set<string>();

  constructor(readonly w: KernelWriter, private readonly storage: Storage) {}

  noteOrigin(n: Node): void {
    const d = describeOrigin(n);
    if (!this.originSet.has(d)) { this.originSet.add(d); this.origins.push(d); }
  }

  /** Fix the value of `n` at `coords` (e.g. an accumulator), visible at the current level. */
  bind(n: Node, coords: readonly Ix[], code: string, level = this.w.level): void {
    const key = coordsKey(n, coords);
    this.w.define(key, code, level);
    this.levels.set(key, level);
  }

  /** Fix the value of `n` at every coordinate (a per-row result inside a row kernel). */
  bindEverywhere(n: Node, v: Value): void {
    this.anyCoords.set(n.id, v);
  }

  /** The value of `n` at `coords`: bound, loaded if stored, else computed. */
  value(n: Node, coords: readonly Ix[]): Value {
    const any = this.anyCoords.get(n.id);
    if (any) return any;
    const key = coordsKey(n, coords);
    const hit = this.w.lookup(key);
    if (hit !== undefined) return { code: hit, level: this.levels.get(key) ?? this.w.level };
    const t = this.storage.tensorOf(n);
    if (t !== undefined) return this.load(n, t, coords, key);
    return this.compute(n, coords);
  }

  /** The value of `n` computed from its operands even if `n` is stored (its own kernel). */
  compute(n: Node, coords: readonly Ix[]): Value {
    const key = coordsKey(n, coords);
    const hit = this.w.lookup(key);
    if (hit !== undefined) return { code: hit, level: this.levels.get(key) ?? this.w.level };
    switch (n.op) {
      case 'const': return { code: literal(n.value, n.dtype), level: 0 };
      case 'iota': return this.emit(n, key, `i32(${this.w.ix(coords[n.axis])})`, coords[n.axis].level);
      case 'random': {
        const lin = ixLinearize(coords, n.shape);
        this.w.use('philox');
        const fn = n.dist === 'normal' ? 'kiln_normal' : 'kiln_uniform';
        return this.emit(n, key, `${fn}(${this.w.ix(lin)}, ${n.seed >>> 0}u)`, lin.level);
      }
      case 'unary': {
        const a = this.value(n.src[0], coords);
        return this.emit(n, key, this.unary(n, a.code), a.level);
      }
      case 'binary': {
        const a = this.value(n.src[0], coords);
        const b = this.value(n.src[1], coords);
        return this.emit(n, key, this.binary(n, a.code, b.code), maxLevel([a, b]));
      }
      case 'where': {
        const [c, a, b] = n.src.map((s) => this.value(s, coords));
        return this.emit(n, key, `select(${b.code}, ${a.code}, ${c.code})`, maxLevel([c, a, b]));
      }
      case 'cast': {
        const a = this.value(n.src[0], coords);
        return this.emit(n, key, this.cast(a.code, n.src[0].dtype, n.dtype), a.level);
      }
      case 'reshape': {
        this.noteOrigin(n);
        const lin = ixLinearize(coords, n.shape);
        return this.value(n.src[0], ixDelinearize(lin, n.src[0].shape));
      }
      case 'permute': {
        this.noteOrigin(n);
        const inner: Ix[] = new Array<Ix>(coords.length);
        n.perm.forEach((p, k) => { inner[p] = coords[k]; });
        return this.value(n.src[0], inner);
      }
      case 'expand': {
        this.noteOrigin(n);
        const s = n.src[0].shape;
        return this.value(n.src[0], coords.map((c, k) => (s[k] === 1 ? IX_ZERO : c)));
      }
      case 'slice': {
        this.noteOrigin(n);
        return this.value(n.src[0], coords.map((c, k) => ixAddConst(ixScale(c, n.step[k]), n.start[k])));
      }
      case 'repeat': {
        this.noteOrigin(n);
        return this.value(n.src[0], coords.map((c, k) => ixDiv(c, n.factors[k])));
      }
      case 'pad': return this.pad(n, coords, key);
      case 'concat': return this.concat(n, coords, key);
      case 'input': case 'reduce': case 'matmul': case 'conv':
        throw new Error(`codegen: ${n.op} %${n.id} must be stored or bound before it is read`);
    }
  }

  private emit(n: Node, key: string, expr: string, level: number): Value {
    this.noteOrigin(n);
    const code = this.w.let(expr, level, key, 'v');
    this.levels.set(key, level);
    return { code, level };
  }

  private load(n: Node, tensor: number, coords: readonly Ix[], key: string): Value {
    const buf = this.w.bind(tensor, n.dtype, 'read');
    const idx = ixLinearize(coords, n.shape);
    const raw = `${buf}[${this.w.ix(idx)}]`;
    const expr = n.dtype === 'f16' ? `f32(${raw})` : n.dtype === 'bool' ? `(${raw} != 0u)` : raw;
    const code = this.w.let(expr, idx.level, key, 'v');
    this.levels.set(key, idx.level);
    return { code, level: idx.level };
  }

  /** `i >= lo` as WGSL, or a constant when the range decides it. */
  private atLeast(i: Ix, lo: number): string | boolean {
    if (i.lo >= lo) return true;
    if (i.hi < lo) return false;
    return `(${this.w.ix(i)} >= ${lo}u)`;
  }

  private below(i: Ix, hi: number): string | boolean {
    if (i.hi < hi) return true;
    if (i.lo >= hi) return false;
    return `(${this.w.ix(i)} < ${hi}u)`;
  }

  private pad(n: Extract<Node, { op: 'pad' }>, coords: readonly Ix[], key: string): Value {
    this.noteOrigin(n);
    const s = n.src[0].shape;
    const inner = coords.map((c, k) => {
      const [before, after] = n.pads[k];
      if (before === 0 && after === 0) return c;
      return ixClamp(ixAddConst(ixMax(c, before), -before), 0, s[k] - 1);
    });
    if (n.mode === 'replicate') return this.value(n.src[0], inner);
    const conds: string[] = [];
    for (let k = 0; k < coords.length; k++) {
      const [before, after] = n.pads[k];
      if (before === 0 && after === 0) continue;
      for (const c of [this.atLeast(coords[k], before), this.below(coords[k], before + s[k])]) {
        if (c === false) return { code: literal(n.value, n.dtype), level: 0 };
        if (c !== true) conds.push(c);
      }
    }
    const v = this.value(n.src[0], inner);
    if (conds.length === 0) return v;
    const lvl = maxLevel([v, ...coords]);
    const code = this.w.let(`select(${literal(n.value, n.dtype)}, ${v.code}, ${conds.join(' && ')})`, lvl, key, 'v');
    this.levels.set(key, lvl);
    return { code, level: lvl };
  }

  private concat(n: Extract<Node, { op: 'concat' }>, coords: readonly Ix[], key: string): Value {
    this.noteOrigin(n);
    const a = n.axis;
    const i = coords[a];
    const parts: { value: Value; start: number }[] = [];
    let off = 0;
    for (const p of n.src) {
      const size = p.shape[a];
      const start = off;
      off += size;
      if (size === 0 || i.hi < start || i.lo >= start + size) continue;
      const inner = [...coords];
      inner[a] = ixMin(ixAddConst(ixMax(i, start), -start), size - 1);
      parts.push({ value: this.value(p, inner), start });
    }
    if (parts.length === 1) return parts[0].value;
    let code = parts[parts.length - 1].value.code;
    for (let k = parts.length - 2; k >= 0; k--) {
      code = `select(${code}, ${parts[k].value.code}, ${this.w.ix(i)} < ${parts[k + 1].start}u)`;
    }
    const lvl = maxLevel([...parts.map((p) => p.value), i]);
    const name = this.w.let(code, lvl, key, 'v');
    this.levels.set(key, lvl);
    return { code: name, level: lvl };
  }

  private unary(n: UnaryNode, a: string): string {
    switch (n.fn) {
      case 'neg': return `(-${a})`;
      case 'abs': return `abs(${a})`;
      case 'exp': case 'log': case 'sqrt': case 'sin': case 'cos': case 'floor': case 'ceil':
        return `${n.fn}(${a})`;
      case 'rsqrt': return `inverseSqrt(${a})`;
      case 'recip': return `(1.0f / ${a})`;
      case 'tanh': this.w.use('tanh'); return `kiln_tanh(${a})`;
      case 'not': return `(!${a})`;
    }
  }

  private binary(n: BinaryNode, a: string, b: string): string {
    const int = n.src[0].dtype === 'i32';
    switch (n.fn) {
      case 'add': return `(${a} + ${b})`;
      case 'sub': return `(${a} - ${b})`;
      case 'mul': return `(${a} * ${b})`;
      case 'div':
        if (int) { this.w.use('idiv'); return `kiln_idiv(${a}, ${b})`; }
        return `(${a} / ${b})`;
      case 'mod':
        if (int) { this.w.use('imod'); return `kiln_imod(${a}, ${b})`; }
        this.w.use('fmod');
        return `kiln_fmod(${a}, ${b})`;
      case 'max': return `max(${a}, ${b})`;
      case 'min': return `min(${a}, ${b})`;
      case 'pow': return this.pow(n, a, b);
      case 'lt': return `(${a} < ${b})`;
      case 'le': return `(${a} <= ${b})`;
      case 'gt': return `(${a} > ${b})`;
      case 'ge': return `(${a} >= ${b})`;
      case 'eq': return `(${a} == ${b})`;
      case 'ne': return `(${a} != ${b})`;
      case 'and': return `(${a} && ${b})`;
      case 'or': return `(${a} || ${b})`;
    }
  }

  /** Constant exponents that have exact cheap forms; the rest go through kiln_pow. */
  private pow(n: BinaryNode, a: string, b: string): string {
    const e = n.src[1];
    if (e.op === 'const') {
      switch (e.value) {
        case 1: return a;
        case 2: return `(${a} * ${a})`;
        case 3: return `(${a} * ${a} * ${a})`;
        case 0.5: return `sqrt(${a})`;
        case -1: return `(1.0f / ${a})`;
        case -0.5: return `inverseSqrt(${a})`;
        default: break;
      }
    }
    this.w.use('pow');
    return `kiln_pow(${a}, ${b})`;
  }

  private cast(a: string, from: DType, to: DType): string {
    const vf = valueType(from);
    switch (to) {
      case 'f32':
        return vf === 'f32' ? a : vf === 'i32' ? `f32(${a})` : `select(0.0f, 1.0f, ${a})`;
      case 'f16':
        if (vf === 'bool') return `select(0.0f, 1.0f, ${a})`;
        if (from === 'f16') return a;
        this.w.use('to_f16');
        return `kiln_to_f16(${vf === 'i32' ? `f32(${a})` : a})`;
      case 'i32':
        return vf === 'bool' ? `select(0i, 1i, ${a})` : `i32(${a})`;
      case 'bool':
        return vf === 'bool' ? a : vf === 'i32' ? `(${a} != 0i)` : `(${a} != 0.0f)`;
    }
  }
}

/** The expression that stores value `code` of dtype `d` into a storage element. */
export function storeExpr(code: string, d: DType): string {
  return d === 'f16' ? `f16(${code})` : d === 'bool' ? `select(0u, 1u, ${code})` : code;
}
