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
import { numel } from '../ir.ts';
import { describeOrigin } from '../passes/errors.ts';
import type { Pack } from '../passes/schedule.ts';
import {
  type Ix, IX_ZERO, ixAddConst, ixClamp, ixDelinearize, ixDiv, ixLinearize, ixMax, ixMin, ixScale, ixSub, ixVar,
} from './index_expr.ts';
import { literal, valueType } from './wgsl.ts';
import { type KernelWriter, vectorizable } from './writer.ts';

export interface Value {
  readonly code: string;
  readonly level: number;
}

export interface Storage {
  /** The tensor holding a stored node (after aliasing), or undefined if the node is inlined. */
  tensorOf(n: Node): number | undefined;
  /** Where a packed node's elements sit in its tensor (passes/pack_row_results.ts). */
  packOf?(n: Node): Pack | undefined;
}

/** The element of a stored node's tensor that holds its element `lin` (packed nodes interleave). */
export function storedIndex(storage: Storage, n: Node, lin: Ix): Ix {
  const p = storage.packOf?.(n);
  return p ? ixAddConst(ixScale(lin, p.slots), p.slot) : lin;
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
      case 'reshape': case 'permute': case 'expand': case 'slice': case 'repeat':
        this.noteOrigin(n);
        return this.value(n.src[0], viewCoords(n, coords));
      case 'pad': return this.pad(n, coords, key);
      case 'concat': return this.concat(n, coords, key);
      case 'gather': return this.gather(n, coords);
      case 'input': case 'reduce': case 'matmul': case 'conv':
        throw new Error(`codegen: ${n.op} %${n.id} must be stored or bound before it is read`);
    }
  }

  /**
   * Vector loads: `lanes` are the coordinates of the same expression at four consecutive
   * positions. Every stored tensor the expression reads at four consecutive, 4-aligned
   * elements is loaded with one vec4 load, and each lane's value is bound (so the scalar
   * emission that follows finds it). With `own`, `n` itself is computed here, not loaded.
   */
  prefetch(n: Node, lanes: readonly (readonly Ix[])[], own = false): void {
    if (lanes.length !== 4 || this.anyCoords.has(n.id)) return;
    const keys = lanes.map((c) => coordsKey(n, c));
    if (keys.every((k) => this.w.lookup(k) !== undefined)) return;
    const t = own ? undefined : this.storage.tensorOf(n);
    if (t !== undefined) { this.vectorLoad(n, t, lanes, keys); return; }
    switch (n.op) {
      case 'unary': case 'binary': case 'where': case 'cast':
        for (const src of n.src) this.prefetch(src, lanes);
        return;
      case 'reshape': case 'permute': case 'expand': case 'slice': case 'repeat': case 'pad':
        this.prefetch(n.src[0], lanes.map((c) => viewCoords(n, c)));
        return;
      case 'concat': {
        let off = 0;
        for (const p of n.src) {
          const size = p.shape[n.axis];
          const start = off;
          off += size;
          // Only parts that every lane reads at the same relative offset stay contiguous.
          if (lanes.every((c) => c[n.axis].lo >= start && c[n.axis].hi < start + size)) {
            this.prefetch(p, lanes.map((c) => concatPartCoords(c, n.axis, start, size)));
          }
        }
        return;
      }
      default: return;
    }
  }

  private vectorLoad(n: Node, tensor: number, lanes: readonly (readonly Ix[])[], keys: readonly string[]): void {
    const stored = this.w.storageDType(tensor, n.dtype);
    if (!vectorizable(stored) || numel(n.shape) % 4 !== 0 || this.storage.packOf?.(n)) return;
    const idx = lanes.map((c) => ixLinearize(c, n.shape));
    for (let j = 1; j < 4; j++) {
      const d = ixSub(idx[j], idx[0]);
      if (!d.isConst || d.constant !== j) return;
    }
    const first = idx[0];
    if (first.constant % 4 !== 0 || first.terms.some((t) => t.coef % 4 !== 0)) return;
    const raw = this.w.vector(tensor, n.dtype, 'read', this.w.ix(ixDiv(first, 4)));
    // Halves are widened once per vector: the arithmetic is f32.
    const vec = this.w.let(stored === 'f16' ? `vec4<f32>(${raw})` : raw, first.level, `vec:${keys[0]}`, 'v');
    keys.forEach((k, j) => {
      this.w.define(k, `${vec}.${'xyzw'[j]}`, first.level);
      this.levels.set(k, first.level);
    });
  }

  private emit(n: Node, key: string, expr: string, level: number): Value {
    this.noteOrigin(n);
    const code = this.w.let(expr, level, key, 'v');
    this.levels.set(key, level);
    return { code, level };
  }

  private load(n: Node, tensor: number, coords: readonly Ix[], key: string): Value {
    const idx = storedIndex(this.storage, n, ixLinearize(coords, n.shape));
    const raw = this.w.element(tensor, n.dtype, 'read', this.w.ix(idx));
    const stored = this.w.storageDType(tensor, n.dtype);
    const expr = stored === 'f16' ? `f32(${raw})` : stored === 'bool' ? `(${raw} != 0u)` : raw;
    const code = this.w.let(expr, idx.level, key, 'v');
    this.levels.set(key, idx.level);
    return { code, level: idx.level };
  }

  /**
   * A table row picked by a loaded id: the row coordinate becomes a variable of the kernel,
   * clamped into the table so that a bad id reads a wrong row, never outside the buffer.
   */
  private gather(n: Node, coords: readonly Ix[]): Value {
    const [table, ids] = n.src;
    const id = this.value(ids, coords.slice(0, ids.shape.length));
    const rows = table.shape[0];
    const name = this.w.let(`u32(clamp(${id.code}, 0i, ${rows - 1}i))`, id.level, `row:${id.code}`, 'r');
    this.noteOrigin(n);
    return this.value(table, [ixVar(name, 0, rows - 1, id.level), ...coords.slice(ids.shape.length)]);
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
    const inner = viewCoords(n, coords);
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
      parts.push({ value: this.value(p, concatPartCoords(coords, a, start, size)), start });
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

/** The expression that stores value `code` into an element of a buffer holding `d` (its storage dtype). */
export function storeExpr(code: string, d: DType): string {
  return d === 'f16' ? `f16(${code})` : d === 'bool' ? `select(0u, 1u, ${code})` : code;
}

/** Coordinates of a view's operand (pads clamped into it: a replicate pad's value, a constant pad's safe load). */
function viewCoords(n: Node, coords: readonly Ix[]): Ix[] {
  switch (n.op) {
    case 'reshape': return ixDelinearize(ixLinearize(coords, n.shape), n.src[0].shape);
    case 'permute': {
      const inner: Ix[] = new Array<Ix>(coords.length);
      n.perm.forEach((p, k) => { inner[p] = coords[k]; });
      return inner;
    }
    case 'expand': return coords.map((c, k) => (n.src[0].shape[k] === 1 ? IX_ZERO : c));
    case 'slice': return coords.map((c, k) => ixAddConst(ixScale(c, n.step[k]), n.start[k]));
    case 'repeat': return coords.map((c, k) => ixDiv(c, n.factors[k]));
    case 'pad': return coords.map((c, k) => {
      const [before, after] = n.pads[k];
      if (before === 0 && after === 0) return c;
      return ixClamp(ixAddConst(ixMax(c, before), -before), 0, n.src[0].shape[k] - 1);
    });
    default: throw new Error(`viewCoords: ${n.op} is not a single-operand view`);
  }
}

/** Coordinates in a concat part that starts at `start` along `axis` (clamped into it). */
function concatPartCoords(coords: readonly Ix[], axis: number, start: number, size: number): Ix[] {
  const inner = [...coords];
  inner[axis] = ixMin(ixAddConst(ixMax(coords[axis], start), -start), size - 1);
  return inner;
}
