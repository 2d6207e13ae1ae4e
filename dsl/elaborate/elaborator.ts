/**
 * The elaborator: evaluates Kiln programs over the values of values.ts. One evaluator serves
 * both modes (see context.ts):
 * - check: every function body is checked once, generically, with its tensor parameters'
 *   sizes as variables; calls are checked against the callee's signature (modular checking);
 *   symbolic conditions explore both branches; loops over symbolic lists are widened.
 * - trace: modules are instantiated with a concrete config, functions are inlined and every
 *   tensor op is emitted to the backend, so the result is the program's graph.
 *
 * Module instances mirror PyTorch modules: members are weights (`param`), submodules (single,
 * lists, or absent), config-level `let`s and functions. A member's state-dict key is its path
 * of names from the root (`down_blocks.0.resnets.1.conv1.conv.weight`).
 */
import type { Arg, Block, ConstDecl, DimExpr, Expr, FnDecl, Member, ModuleDecl, Param, Pattern, Stmt, TypeExpr } from '../ast.ts';
import { Dim, DimError, reparametrize, type Atom } from '../dims.ts';
import { error, KilnError, type Note } from '../diagnostics.ts';
import type { GlobalDecl, LoadedFile } from '../program.ts';
import type { Span } from '../source.ts';
import * as ops from '../tensor_ops.ts';
import {
  describeValue, floatValue, intValue, NONE, typeToString, UNKNOWN,
  type MemberValue, type ModuleInstance, type SymBool, type TensorType, type TensorValue, type Value,
} from '../values.ts';
import { type Ctx, Facts, concrete } from './context.ts';
import { joinValues } from './join.ts';
import { binaryOp, negate, notValue } from './operators.ts';
import { Scope } from './scope.ts';
import { BUILTINS, callBuiltin, CONSTANTS } from '../builtins/index.ts';

export interface Env {
  readonly scope: Scope;
  readonly self?: ModuleInstance;
  readonly file: LoadedFile;
  /**
   * In a call: the caller's axis label of each size variable bound from an argument, so the
   * result's axes carry the caller's names, never the callee's (its `C` may be the caller's `D`).
   */
  readonly sizeLabels?: Map<string, string | undefined>;
}

export interface EvaluatedArg {
  readonly value: Value;
  readonly span: Span;
  readonly name?: string;
  readonly nameSpan?: Span;
}

class UnboundSize extends Error {
  constructor(readonly variable: string) {
    super(variable);
  }
}

/** The source text of a span, on one line (types may wrap over lines). */
export const sourceText = (span: Span): string => span.file.text.slice(span.start, span.end).replace(/\s*\n\s*/g, ' ');

function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  return best && bestD <= Math.max(1, Math.floor(name.length / 3)) ? `did you mean '${best}'?` : undefined;
}

/** Optimal-string-alignment distance: edits, with a swap of neighbours counted as one. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

export function factsAfter(facts: Facts, fact: { conds: readonly string[]; subst?: readonly [string, Dim] }): Facts {
  let f = facts;
  for (const c of fact.conds) f = f.with(c);
  if (fact.subst) f = f.with(undefined, [fact.subst[0], fact.subst[1]]);
  return f;
}

export class Elaborator {
  private readonly constCache = new Map<ConstDecl, Value>();

  constructor(readonly ctx: Ctx) {}

  get tracing(): boolean {
    return this.ctx.tracing;
  }

  // =================================================================== names

  lookup(name: string, env: Env, span: Span): Value {
    const b = env.scope.lookup(name);
    if (b) return b.value;
    if (env.self) {
      const m = this.memberOf(env.self, name, span, true);
      if (m) return m;
      const c = env.self.config.get(name);
      if (c) return c;
    }
    const g = env.file.scope.get(name);
    if (g) return this.globalValue(g);
    if (BUILTINS.has(name)) return { kind: 'callable', callable: { kind: 'builtin', name } };
    const k = CONSTANTS.get(name);
    if (k) return k;
    const candidates = [...env.scope.names(), ...(env.self ? [...env.self.members.keys(), ...env.self.config.keys()] : []), ...env.file.scope.keys(), ...BUILTINS.keys()];
    throw error(`unknown name '${name}'`, span, { help: didYouMean(name, candidates) ?? 'define it with let, declare it as a parameter, or import the file that defines it' });
  }

  globalValue(g: GlobalDecl): Value {
    switch (g.kind) {
      case 'module': return { kind: 'callable', callable: { kind: 'module_class', decl: g } };
      case 'fn': return { kind: 'callable', callable: { kind: 'fn', decl: g } };
      case 'const': {
        const cached = this.constCache.get(g);
        if (cached) return cached;
        const file = this.ctx.program.fileOf(g.span.file);
        const v = this.eval(g.value, { scope: new Scope(), file });
        this.constCache.set(g, v);
        return v;
      }
    }
  }

  /** A member of a module instance as a value; undefined when there is no such member. */
  memberOf(inst: ModuleInstance, name: string, span: Span, implicit = false): Value | undefined {
    const m = inst.members.get(name);
    if (!m) {
      if (implicit) return undefined;
      const c = inst.config.get(name);
      if (c) return c;
      throw error(`${inst.decl.name} has no member '${name}'`, span, {
        help: didYouMean(name, [...inst.members.keys(), ...inst.config.keys()]) ?? `its members are: ${[...inst.members.keys()].join(', ') || '(none)'}`,
      });
    }
    if (m.kind !== 'fn' && m.presence) this.requirePresence(inst, name, m.presence, span);
    switch (m.kind) {
      case 'weight': return { kind: 'tensor', t: this.weightTensor(inst, m.name, m.type, span) };
      case 'submodule': return m.value;
      case 'let': return m.value;
      case 'fn': return { kind: 'callable', callable: { kind: 'fn', decl: m.decl, self: inst } };
    }
  }

  private requirePresence(inst: ModuleInstance, name: string, presence: SymBool, span: Span): void {
    if (this.ctx.facts.conds.has(presence.text)) return;
    throw error(`'${name}' of ${inst.decl.name} exists only when ${presence.display}`, span, {
      help: `use it inside \`if ${presence.display} { ... }\``,
    });
  }

  weightTensor(inst: ModuleInstance, name: string, type: TensorType, span: Span): TensorValue {
    const key = inst.prefix + name;
    const handle = this.ctx.emit('param', span, (b) => b.input(key, type.shape.map((d, i) => concrete(d, span, `weight ${key} axis ${i}`)), type.dtype, 'weight'));
    return { ...type, handle };
  }

  // =================================================================== expressions

  eval(e: Expr, env: Env): Value {
    switch (e.kind) {
      case 'int': return intValue(e.value);
      case 'float': return floatValue(e.value);
      case 'bool': return { kind: 'bool', value: e.value };
      case 'str': return { kind: 'str', value: e.value };
      case 'none': return NONE;
      case 'name': return this.lookup(e.name, env, e.span);
      case 'list': return { kind: 'list', items: e.items.map((x) => this.eval(x, env)) };
      case 'tuple': return { kind: 'tuple', items: e.items.map((x) => this.eval(x, env)), names: e.names };
      case 'range': return this.evalRange(e, env);
      case 'comprehension': return this.evalComprehension(e, env);
      case 'unary': {
        const v = this.eval(e.operand, env);
        if (e.op === '-') return negate(this.ctx, v, e.span);
        if (v.kind === 'tensor') return { kind: 'tensor', t: ops.unary(this.ctx, { span: e.span, op: 'not' }, 'not', v.t) };
        return notValue(v, e.span);
      }
      case 'binary': {
        const optional = this.optionalNoneTest(e, env);
        if (optional) return optional;
        const a = this.eval(e.left, env);
        // Short-circuit on known bools so `n > 0 and xs[n - 1] == 1` is safe.
        if ((e.op === 'and' || e.op === 'or') && a.kind === 'bool' && a.value !== undefined) {
          if (e.op === 'and' && !a.value) return a;
          if (e.op === 'or' && a.value) return a;
        }
        const b = this.eval(e.right, env);
        return binaryOp(this.ctx, e.op, a, b, e.span, sourceText(e.span));
      }
      case 'call': return this.evalCall(e, env);
      case 'member': return this.evalMember(e, env);
      case 'index': return this.evalIndex(e, env);
      case 'if': return this.evalIf(e.cond, e.then, e.else, env, e.span);
      case 'block': return this.evalBlock(e.block, env);
    }
  }

  /**
   * Check mode: `x == none` / `x != none` on an optional tensor parameter (declared `= none`)
   * is unknown, so both paths are checked.
   */
  private optionalNoneTest(e: Expr & { kind: 'binary' }, env: Env): Value | undefined {
    if (this.tracing || (e.op !== '==' && e.op !== '!=')) return undefined;
    const [name, other] = e.left.kind === 'name' ? [e.left.name, e.right] : e.right.kind === 'name' ? [e.right.name, e.left] : [undefined, undefined];
    if (!name || other?.kind !== 'none' || !env.scope.lookup(name)?.optional) return undefined;
    const isNone = `${name} == none`;
    const notNone = `${name} != none`;
    const sym: SymBool = { text: isNone, neg: notNone, display: isNone, whenTrue: { conds: [isNone] }, whenFalse: { conds: [notNone] } };
    return e.op === '==' ? { kind: 'bool', value: undefined, sym } : notValue({ kind: 'bool', value: undefined, sym }, e.span);
  }

  /** Evaluate, recovering from errors in check mode (the error is recorded, the value unknown). */
  evalRecover(e: Expr, env: Env): Value {
    if (this.tracing) return this.eval(e, env);
    try {
      return this.eval(e, env);
    } catch (err) {
      if (err instanceof KilnError) { this.ctx.report(err); return UNKNOWN; }
      throw err;
    }
  }

  expectInt(v: Value, span: Span, what: string): Dim {
    if (v.kind === 'int') return v.dim;
    if (v.kind === 'unknown') return this.ctx.freshDim();
    throw error(`${what} must be an int, got ${describeValue(v)}`, span);
  }

  expectBool(v: Value, span: Span, what: string): Value & { kind: 'bool' } {
    if (v.kind === 'bool') return v;
    if (v.kind === 'unknown') return { kind: 'bool', value: undefined, sym: { text: `?${sourceText(span)}`, neg: `not ?${sourceText(span)}`, display: sourceText(span), whenTrue: { conds: [] }, whenFalse: { conds: [] } } };
    if (v.kind === 'tensor') throw error(`${what} must be a config bool, not a tensor ${typeToString(v.t)}`, span, { help: 'branching on tensor values is not possible; use where(cond, a, b) to select elementwise' });
    throw error(`${what} must be a bool, got ${describeValue(v)}`, span);
  }

  private evalRange(e: Expr & { kind: 'range' }, env: Env): Value {
    const start = this.expectInt(this.eval(e.start, env), e.start.span, 'a range start');
    const end = this.expectInt(this.eval(e.end, env), e.end.span, 'a range end');
    return { kind: 'range', start, end };
  }

  /** Items of an iterable value, or undefined when they are symbolic (check mode). */
  private itemsOf(v: Value, span: Span): Value[] | undefined {
    switch (v.kind) {
      case 'list': case 'tuple': return [...v.items];
      case 'range': {
        const a = v.start.value;
        const b = v.end.value;
        if (a === undefined || b === undefined) {
          if (this.tracing) throw error(`the range ${v.start}..${v.end} must be known when the program is bound`, span);
          return undefined;
        }
        return Array.from({ length: Math.max(0, b - a) }, (_, i) => intValue(a + i));
      }
      case 'symlist': return undefined;
      case 'unknown': return undefined;
      default: throw error(`cannot iterate over ${describeValue(v)}`, span, { help: 'iterate over a list, a tuple or a range a..b' });
    }
  }

  /** A representative item of a symbolic iterable, with the index it stands for. */
  private symbolicItem(v: Value): { item: Value; index: Dim } {
    const index = this.ctx.freshDim('i');
    if (v.kind === 'range') return { item: intValue(v.start.add(index)), index };
    if (v.kind === 'symlist') return { item: v.item(index), index };
    return { item: UNKNOWN, index };
  }

  private evalComprehension(e: Expr & { kind: 'comprehension' }, env: Env): Value {
    const iterable = this.eval(e.iterable, env);
    const items = this.itemsOf(iterable, e.iterable.span);
    const evalItem = (item: Value): Value | undefined => {
      const scope = new Scope(env.scope);
      scope.define(e.variable, item);
      const inner = { ...env, scope };
      if (e.cond) {
        const c = this.expectBool(this.eval(e.cond, inner), e.cond.span, 'a comprehension filter');
        if (c.value === false) return undefined;
        if (c.value === undefined) return this.ctx.withFacts(factsAfter(this.ctx.facts, c.sym!.whenTrue), () => this.eval(e.body, inner));
      }
      return this.eval(e.body, inner);
    };
    if (items) {
      const out: Value[] = [];
      for (const it of items) {
        const v = evalItem(it);
        if (v) out.push(v);
      }
      return { kind: 'list', items: out };
    }
    // Symbolic: a list whose items are computed on demand.
    const length = e.cond ? this.ctx.freshDim('n') : iterable.kind === 'range' ? iterable.end.sub(iterable.start) : iterable.kind === 'symlist' ? iterable.length : this.ctx.freshDim('n');
    const name = `[${sourceText(e.span)}]`;
    return {
      kind: 'symlist', name, length,
      item: (index: Dim) => {
        const it = iterable.kind === 'range' ? intValue(iterable.start.add(index)) : iterable.kind === 'symlist' ? iterable.item(index) : UNKNOWN;
        return evalItem(it) ?? UNKNOWN;
      },
    };
  }

  private evalMember(e: Expr & { kind: 'member' }, env: Env): Value {
    const obj = this.eval(e.object, env);
    switch (obj.kind) {
      case 'module': return this.memberOf(obj.inst, e.name, e.nameSpan)!;
      case 'tuple': {
        const i = obj.names?.indexOf(e.name) ?? -1;
        if (i >= 0) return obj.items[i];
        if (/^\d+$/.test(e.name) && Number(e.name) < obj.items.length) return obj.items[Number(e.name)];
        throw error(`the tuple has no field '${e.name}'`, e.nameSpan, { help: obj.names ? `its fields are: ${obj.names.filter(Boolean).join(', ')}` : 'index it by position, e.g. t[0]' });
      }
      case 'tensor': {
        const t = obj.t;
        if (e.name === 'shape') return { kind: 'list', items: t.shape.map((d) => intValue(d)) };
        if (e.name === 'dtype') return { kind: 'dtype', dtype: t.dtype };
        if (e.name === 'ndim') return intValue(t.shape.length);
        throw error(`tensors have no attribute '${e.name}'`, e.nameSpan, { help: 'tensor attributes are .shape, .dtype and .ndim' });
      }
      case 'list': case 'symlist':
        if (/^\d+$/.test(e.name)) return this.indexList(obj, intValue(Number(e.name)), e.nameSpan);
        throw error(`lists have no attribute '${e.name}'`, e.nameSpan, { help: 'index a list with xs[i]' });
      case 'unknown': return UNKNOWN;
      default:
        throw error(`${describeValue(obj)} has no attribute '${e.name}'`, e.nameSpan);
    }
  }

  indexList(list: Value, idx: Value, span: Span): Value {
    const i = this.expectInt(idx, span, 'a list index');
    if (list.kind === 'symlist') return list.item(i);
    if (list.kind === 'list' || list.kind === 'tuple') {
      const n = list.items.length;
      const v = i.value;
      if (v === undefined) {
        if (this.tracing) throw error(`the index ${i} must be known when the program is bound`, span);
        return list.items.length > 0 && list.items.every((x) => x.kind === list.items[0].kind && x.kind !== 'tensor') ? list.items[0] : UNKNOWN;
      }
      const k = v < 0 ? v + n : v;
      if (k < 0 || k >= n) throw error(`index ${v} is out of range for a list of ${n}`, span, { help: n ? `valid indices are 0..${n - 1} (or -${n}..-1)` : 'the list is empty' });
      return list.items[k];
    }
    if (list.kind === 'unknown') return UNKNOWN;
    throw error(`cannot index ${describeValue(list)}`, span);
  }

  private evalIndex(e: Expr & { kind: 'index' }, env: Env): Value {
    const obj = this.eval(e.object, env);
    if (obj.kind === 'tensor') return { kind: 'tensor', t: this.sliceTensor(obj.t, e, env) };
    if (e.items.length !== 1 || e.items[0].kind !== 'index') {
      if (obj.kind === 'unknown') return UNKNOWN;
      if ((obj.kind === 'list' || obj.kind === 'tuple') && e.items.length === 1 && e.items[0].kind === 'range') {
        const r = e.items[0];
        const n = obj.items.length;
        const get = (x: Expr | undefined, d: number) => {
          if (!x) return d;
          const v = this.expectInt(this.eval(x, env), x.span, 'a slice bound').value;
          if (v === undefined) throw error('list slice bounds must be known', x.span);
          return v < 0 ? Math.max(0, v + n) : Math.min(v, n);
        };
        const items = obj.items.slice(get(r.start, 0), get(r.stop, n));
        return obj.kind === 'list' ? { kind: 'list', items } : { kind: 'tuple', items };
      }
      throw error(`${describeValue(obj)} takes a single index`, e.span);
    }
    return this.indexList(obj, this.eval(e.items[0].value, env), e.items[0].span);
  }

  /** Python-style tensor indexing: ints drop an axis, a:b:c slice, ... fills, none adds an axis. */
  private sliceTensor(x: TensorValue, e: Expr & { kind: 'index' }, env: Env): TensorValue {
    const site = { span: e.span, op: 'index' };
    const items = e.items;
    const ellipses = items.filter((i) => i.kind === 'ellipsis').length;
    if (ellipses > 1) throw error('an index can hold at most one ...', e.span);
    const consuming = items.filter((i) => i.kind === 'index' || i.kind === 'range').length;
    if (consuming > x.shape.length) {
      throw error(`too many indices for ${typeToString(x)}: ${consuming} given, rank ${x.shape.length}`, e.span, { help: 'use ... to skip axes' });
    }
    const expanded: typeof items = [];
    for (const it of items) {
      if (it.kind === 'ellipsis') for (let k = 0; k < x.shape.length - consuming; k++) expanded.push({ kind: 'range', span: it.span });
      else expanded.push(it);
    }
    while (expanded.filter((i) => i.kind !== 'newaxis').length < x.shape.length) expanded.push({ kind: 'range', span: e.span });
    const specs: ops.SliceSpec[] = [];
    const finalShape: Dim[] = [];
    const finalLabels: (string | undefined)[] = [];
    let axis = 0;
    let needReshape = false;
    for (const it of expanded) {
      if (it.kind === 'newaxis') { finalShape.push(Dim.of(1)); finalLabels.push(undefined); needReshape = true; continue; }
      const size = x.shape[axis];
      if (it.kind === 'index') {
        const i = this.expectInt(this.eval(it.value, env), it.span, 'a tensor index');
        const start = this.normIndex(i, size, it.span, axis, x, false);
        specs.push({ start, count: Dim.of(1), step: 1 });
        needReshape = true;
      } else if (it.kind === 'range') {
        const stepV = it.step ? this.expectInt(this.eval(it.step, env), it.step.span, 'a slice step').value : 1;
        if (stepV === undefined || stepV < 1) throw error('a slice step must be a known integer >= 1', it.step?.span ?? it.span);
        const start = it.start ? this.normIndex(this.expectInt(this.eval(it.start, env), it.start.span, 'a slice start'), size, it.start.span, axis, x, true) : Dim.of(0);
        const stop = it.stop ? this.normIndex(this.expectInt(this.eval(it.stop, env), it.stop.span, 'a slice stop'), size, it.stop.span, axis, x, true) : size;
        let count = stop.sub(start).add(stepV - 1).floorDiv(stepV);
        const cv = count.value;
        if (cv !== undefined && cv < 0) count = Dim.of(0);
        specs.push({ start, count, step: stepV });
        finalShape.push(count);
        finalLabels.push(count.equals(size) ? x.labels[axis] : undefined);
      }
      axis++;
    }
    let t = ops.slice(this.ctx, site, x, specs);
    if (needReshape) t = ops.reshape(this.ctx, site, t, finalShape, finalLabels);
    return t;
  }

  /** Normalise a (possibly negative) index; slices clamp like Python, plain indices must be in range. */
  private normIndex(i: Dim, size: Dim, span: Span, axis: number, x: TensorValue, clampToSize: boolean): Dim {
    const v = i.value;
    const n = size.value;
    if (v !== undefined && n !== undefined) {
      let k = v < 0 ? v + n : v;
      if (clampToSize) k = Math.min(Math.max(k, 0), n);
      else if (k < 0 || k >= n) throw error(`index ${v} is out of range for axis ${axis} of ${typeToString(x)} (size ${n})`, span, { help: `valid indices are 0..${n - 1} (or -${n}..-1)` });
      return Dim.of(k);
    }
    if (v !== undefined && v < 0) return size.add(v);
    return i;
  }

  // =================================================================== control flow

  evalBlock(block: Block, env: Env): Value {
    const inner: Env = { ...env, scope: new Scope(env.scope) };
    for (const st of block.stmts) this.execStmt(st, inner);
    return block.result ? this.evalRecover(block.result, inner) : NONE;
  }

  private execStmt(st: Stmt, env: Env): void {
    if (this.tracing) return this.execStmtUnchecked(st, env);
    try {
      this.execStmtUnchecked(st, env);
    } catch (err) {
      if (!(err instanceof KilnError)) throw err;
      this.ctx.report(err);
      if (st.kind === 'let') this.bindPattern(st.pattern, UNKNOWN, env, true);
      if (st.kind === 'assign') env.scope.lookup(st.name) && (env.scope.lookup(st.name)!.value = UNKNOWN);
    }
  }

  private execStmtUnchecked(st: Stmt, env: Env): void {
    switch (st.kind) {
      case 'let': {
        let v = this.eval(st.value, env);
        if (st.type) v = this.checkDeclaredType(st.type, v, env, st.value.span, `the value of let ${sourceText(st.pattern.span)}`);
        this.bindPattern(st.pattern, v, env, true);
        return;
      }
      case 'assign': {
        const b = env.scope.lookup(st.name);
        if (!b) throw error(`cannot assign to '${st.name}': it is not defined`, st.nameSpan, { help: `define it first with let ${st.name} = ...` });
        if (!b.mutable) throw error(`cannot assign to '${st.name}': it is a parameter or a size`, st.nameSpan, { help: `bind a new name instead: let ${st.name}2 = ...` });
        b.value = this.eval(st.value, env);
        return;
      }
      case 'for': return this.execFor(st, env);
      case 'assert': return this.execAssert(st.cond, st.message, env, st.span);
      case 'expr': this.eval(st.expr, env); return;
    }
  }

  private bindPattern(p: Pattern, v: Value, env: Env, mutable: boolean): void {
    if (p.kind === 'pat_name') {
      if (p.name !== '_') env.scope.define(p.name, v, { mutable, span: p.span });
      return;
    }
    if (v.kind === 'unknown') {
      for (const it of p.items) this.bindPattern(it, UNKNOWN, env, mutable);
      return;
    }
    if (v.kind !== 'tuple' && v.kind !== 'list') throw error(`cannot unpack ${describeValue(v)} into ${p.items.length} names`, p.span);
    if (v.items.length !== p.items.length) throw error(`cannot unpack ${v.items.length} values into ${p.items.length} names`, p.span);
    p.items.forEach((it, i) => this.bindPattern(it, v.items[i], env, mutable));
  }

  execAssert(cond: Expr, message: Expr | undefined, env: Env, span: Span): void {
    const c = this.expectBool(this.eval(cond, env), cond.span, 'an assert condition');
    if (c.value !== false) return;
    const msg = message ? this.eval(message, env) : undefined;
    const text = msg?.kind === 'str' && msg.value !== undefined ? msg.value : `assertion failed: ${sourceText(cond.span)}`;
    throw error(text, span);
  }

  private execFor(st: Stmt & { kind: 'for' }, env: Env): void {
    const iterable = this.eval(st.iterable, env);
    const items = this.itemsOf(iterable, st.iterable.span);
    const runBody = (item: Value) => {
      const scope = new Scope(env.scope);
      scope.define(st.variable, item, { span: st.variableSpan });
      const inner = { ...env, scope };
      for (const s of st.body.stmts) this.execStmt(s, inner);
      if (st.body.result) this.evalRecover(st.body.result, inner);
    };
    if (items) {
      for (const it of items) runBody(it);
      return;
    }
    // Symbolic iteration (check mode): run once, widen what changed, run again under the widened types.
    const muts = env.scope.mutables();
    const before = new Map([...muts].map(([k, b]) => [k, b.value]));
    const { item } = this.symbolicItem(iterable);
    runBody(item);
    let changed = false;
    for (const [k, b] of muts) {
      const prev = before.get(k)!;
      if (b.value !== prev) {
        changed = true;
        b.value = this.widen(prev, b.value, st.span, k);
      }
    }
    if (!changed) return;
    const widened = new Map([...muts].map(([k, b]) => [k, b.value]));
    runBody(this.symbolicItem(iterable).item);
    for (const [k, b] of muts) b.value = this.widen(widened.get(k)!, b.value, st.span, k);
  }

  private widen(a: Value, b: Value, span: Span, name: string): Value {
    try {
      return joinValues(this.ctx, a, b, this.ctx.facts, this.ctx.facts, span, `'${name}'`);
    } catch (err) {
      if (err instanceof KilnError) { this.ctx.report(err); return UNKNOWN; }
      throw err;
    }
  }

  evalIf(condExpr: Expr, then: Block, otherwise: Block | undefined, env: Env, span: Span): Value {
    const c = this.expectBool(this.eval(condExpr, env), condExpr.span, 'an if condition');
    if (c.value === true) return this.evalBlock(then, env);
    if (c.value === false) return otherwise ? this.evalBlock(otherwise, env) : NONE;
    // Symbolic: evaluate both paths with what each learns, then join values and variables.
    const sym = c.sym!;
    const muts = env.scope.mutables();
    const before = new Map([...muts].map(([k, b]) => [k, b.value]));
    const factsT = factsAfter(this.ctx.facts, sym.whenTrue);
    const factsF = factsAfter(this.ctx.facts, sym.whenFalse);
    const vt = this.ctx.withFacts(factsT, () => this.evalBlock(then, env));
    const afterT = new Map([...muts].map(([k, b]) => [k, b.value]));
    for (const [k, b] of muts) b.value = before.get(k)!;
    const vf = otherwise ? this.ctx.withFacts(factsF, () => this.evalBlock(otherwise, env)) : NONE;
    for (const [k, b] of muts) {
      const t = afterT.get(k)!;
      if (t !== b.value) b.value = this.joinRecover(t, b.value, factsT, factsF, span, `'${k}'`);
    }
    if (!otherwise) return vt.kind === 'none' ? NONE : UNKNOWN;
    return this.joinRecover(vt, vf, factsT, factsF, span, 'the if expression');
  }

  private joinRecover(a: Value, b: Value, fa: Facts, fb: Facts, span: Span, what: string): Value {
    try {
      return joinValues(this.ctx, a, b, fa, fb, span, what);
    } catch (err) {
      if (err instanceof KilnError) { this.ctx.report(err); return UNKNOWN; }
      throw err;
    }
  }

  // =================================================================== calls

  private evalCall(e: Expr & { kind: 'call' }, env: Env): Value {
    const callee = this.eval(e.callee, env);
    if (callee.kind === 'callable' && callee.callable.kind === 'builtin') {
      return callBuiltin(this, callee.callable.name, e.args, env, e.span);
    }
    const args = this.evalArgs(e.args, env);
    return this.apply(callee, args, e.span, sourceText(e.callee.span));
  }

  evalArgs(args: readonly Arg[], env: Env): EvaluatedArg[] {
    let sawNamed = false;
    return args.map((a) => {
      if (a.name) sawNamed = true;
      else if (sawNamed) throw error('a positional argument cannot follow a keyword argument', a.span);
      return { value: this.eval(a.value, env), span: a.span, name: a.name, nameSpan: a.nameSpan };
    });
  }

  apply(callee: Value, args: EvaluatedArg[], span: Span, calleeText: string): Value {
    switch (callee.kind) {
      case 'callable': {
        const c = callee.callable;
        if (c.kind === 'fn') return this.callFunction(c.decl, c.self, args, span);
        if (c.kind === 'module_class') return { kind: 'module', inst: this.instantiate(c.decl, args, span) };
        throw error(`internal: builtin ${c.name} applied to evaluated args`, span);
      }
      case 'module': {
        const fwd = callee.inst.members.get('forward');
        if (!fwd || fwd.kind !== 'fn') throw error(`${callee.inst.decl.name} has no forward function to call`, span, { help: `declare fn forward(...) in module ${callee.inst.decl.name}, or call one of its functions as ${calleeText}.name(...)` });
        return this.callFunction(fwd.decl, callee.inst, args, span);
      }
      case 'unknown': return UNKNOWN;
      case 'none':
        throw error(`'${calleeText}' is none here and cannot be called`, span, { help: 'it is an optional submodule that this config does not create; guard the call with the same if-condition as its declaration' });
      default:
        throw error(`${describeValue(callee)} is not callable`, span);
    }
  }

  /** Match arguments to parameters (positional, then by name; defaults fill the rest). */
  private matchArgs(owner: string, params: readonly Param[], args: readonly EvaluatedArg[], span: Span): (EvaluatedArg | undefined)[] {
    const out: (EvaluatedArg | undefined)[] = params.map(() => undefined);
    let pos = 0;
    for (const a of args) {
      if (!a.name) {
        if (pos >= params.length) throw error(`${owner} takes ${params.length} argument${params.length === 1 ? '' : 's'} but more were given`, a.span, { help: `its parameters are (${params.map((p) => p.name).join(', ')})` });
        out[pos++] = a;
        continue;
      }
      const i = params.findIndex((p) => p.name === a.name);
      if (i < 0) throw error(`${owner} has no parameter '${a.name}'`, a.nameSpan ?? a.span, { help: didYouMean(a.name, params.map((p) => p.name)) ?? `its parameters are (${params.map((p) => p.name).join(', ')})` });
      if (out[i]) throw error(`argument '${a.name}' of ${owner} is given twice`, a.span);
      out[i] = a;
    }
    params.forEach((p, i) => {
      if (!out[i] && !p.default) {
        throw error(`missing argument '${p.name}' of ${owner}`, span, { notes: [{ message: `'${p.name}' is declared here`, span: p.span }] });
      }
    });
    return out;
  }

  // ------------------------------------------------------------------- modules

  instantiate(decl: ModuleDecl, args: readonly EvaluatedArg[], span: Span): ModuleInstance {
    if (++this.ctx.depth > 200) throw error(`module ${decl.name} instantiates itself without end`, span);
    try {
      const file = this.ctx.program.fileOf(decl.span.file);
      const matched = this.matchArgs(`module ${decl.name}`, decl.params, args, span);
      const config = new Map<string, Value>();
      const scope = new Scope();
      decl.params.forEach((p, i) => {
        const a = matched[i];
        const raw = a ? a.value : this.eval(p.default!, { scope, file });
        const v = this.checkConfigValue(p.type, raw, a?.span ?? p.default!.span, `argument '${p.name}' of ${decl.name}`, { scope, file });
        config.set(p.name, v);
        scope.define(p.name, v);
      });
      const inst: ModuleInstance = { decl, prefix: '', config, members: new Map() };
      for (const m of decl.members) if (m.kind === 'fn') inst.members.set(m.name, { kind: 'fn', decl: m, span: m.nameSpan });
      this.evalMembers(decl.members, { scope, self: inst, file }, inst, undefined);
      return inst;
    } finally {
      this.ctx.depth--;
    }
  }

  private evalMembers(members: readonly Member[], env: Env, inst: ModuleInstance, presence: SymBool | undefined): void {
    for (const m of members) {
      if (m.kind === 'fn') {
        if (presence) throw error('functions cannot be declared inside if; declare them at the top of the module', m.nameSpan);
        continue;
      }
      const run = () => this.evalMemberDecl(m, env, inst, presence);
      if (this.tracing) run();
      else {
        try {
          run();
        } catch (err) {
          if (!(err instanceof KilnError)) throw err;
          this.ctx.report(err);
          if (m.kind === 'submodule' || m.kind === 'let') inst.members.set(m.name, { kind: m.kind, value: UNKNOWN, span: m.nameSpan, presence });
        }
      }
    }
  }

  private defineMember(inst: ModuleInstance, name: string, span: Span, value: MemberValue, presence: SymBool | undefined): void {
    const prev = inst.members.get(name);
    if (prev) {
      const complementary = presence && prev.kind !== 'fn' && prev.presence && prev.presence.text === presence.neg;
      if (!complementary) {
        throw error(`member '${name}' of ${inst.decl.name} is defined twice`, span, { notes: [{ message: 'first defined here', span: prev.span }] });
      }
      // Defined on both paths of an if/else: it always exists.
      inst.members.set(name, { ...value, presence: undefined } as typeof value);
      return;
    }
    inst.members.set(name, value);
  }

  private evalMemberDecl(m: Exclude<Member, FnDecl>, env: Env, inst: ModuleInstance, presence: SymBool | undefined): void {
    switch (m.kind) {
      case 'weight': {
        if (m.type.kind !== 'type_tensor') throw error(`weight '${m.name}' must have a tensor type like f32[out, in]`, m.type.span);
        const shape = m.type.dims.map((d) => {
          if (d.kind === 'dim_infer' || d.kind === 'dim_pack') throw error(`the shape of weight '${m.name}' must be fully determined by the config`, d.span, { help: 'write every dimension as an expression of the module parameters' });
          try {
            return this.evalDim(d, env);
          } catch (err) {
            if (err instanceof UnboundSize) throw error(`'${err.variable}' in the shape of weight '${m.name}' is not a module parameter or let`, d.span, { help: 'weight shapes are written in terms of the module config' });
            throw err;
          }
        });
        for (const [i, d] of shape.entries()) {
          const v = d.value;
          if (v !== undefined && v < 0) throw error(`weight '${m.name}' has a negative size ${v} on axis ${i}`, m.type.span);
        }
        this.defineMember(inst, m.name, m.nameSpan, { kind: 'weight', name: m.name, type: { dtype: m.type.dtype, shape, labels: shape.map(() => undefined) }, span: m.nameSpan, presence }, presence);
        return;
      }
      case 'submodule': {
        const v = this.eval(m.value, env);
        this.checkSubmoduleValue(v, m.name, m.value.span);
        this.defineMember(inst, m.name, m.nameSpan, { kind: 'submodule', value: v, span: m.nameSpan, presence }, presence);
        env.scope.define(m.name, v);
        return;
      }
      case 'let': {
        const v = this.eval(m.value, env);
        this.defineMember(inst, m.name, m.nameSpan, { kind: 'let', value: v, span: m.nameSpan, presence }, presence);
        env.scope.define(m.name, v);
        return;
      }
      case 'assert': return this.execAssert(m.cond, m.message, env, m.span);
      case 'member_if': {
        const c = this.expectBool(this.eval(m.cond, env), m.cond.span, 'an if condition');
        if (c.value === true) return this.evalMembers(m.then, env, inst, presence);
        if (c.value === false) return this.evalMembers(m.else, env, inst, presence);
        const sym = c.sym!;
        const neg: SymBool = { text: sym.neg, neg: sym.text, display: `not (${sym.display})`, whenTrue: sym.whenFalse, whenFalse: sym.whenTrue };
        this.ctx.withFacts(factsAfter(this.ctx.facts, sym.whenTrue), () => this.evalMembers(m.then, env, inst, sym));
        this.ctx.withFacts(factsAfter(this.ctx.facts, sym.whenFalse), () => this.evalMembers(m.else, env, inst, neg));
        return;
      }
    }
  }

  private checkSubmoduleValue(v: Value, name: string, span: Span): void {
    const ok = (x: Value): boolean => x.kind === 'module' || x.kind === 'unknown' || x.kind === 'none';
    if (ok(v)) return;
    if (v.kind === 'list' && v.items.every((x) => x.kind === 'module' || x.kind === 'unknown')) return;
    if (v.kind === 'symlist') return;
    throw error(`submodule '${name}' must be a module, a list of modules or none, got ${describeValue(v)}`, span, {
      help: `use \`let ${name} = ...\` for a config value`,
    });
  }

  /** Give every module in the tree its state-dict key prefix. */
  place(inst: ModuleInstance, prefix: string): void {
    inst.prefix = prefix;
    for (const [name, m] of inst.members) {
      if (m.kind !== 'submodule') continue;
      const v = m.value;
      if (v.kind === 'module') this.place(v.inst, `${prefix}${name}.`);
      else if (v.kind === 'list') v.items.forEach((it, i) => { if (it.kind === 'module') this.place(it.inst, `${prefix}${name}.${i}.`); });
    }
  }

  // ------------------------------------------------------------------- functions

  callFunction(fn: FnDecl, self: ModuleInstance | undefined, args: readonly EvaluatedArg[], span: Span): Value {
    if (++this.ctx.depth > 200) throw error(`${fn.name} calls itself without end`, span);
    try {
      const owner = self ? `${self.decl.name}.${fn.name}` : fn.name;
      const env = this.bindCall(fn, self, args, span, owner);
      if (!this.tracing) return this.callerLabels(fn, this.resultFromSignature(fn, env), env);
      const path = self ? `${self.prefix}${fn.name}` : `${this.ctx.path[this.ctx.path.length - 1] ?? '<top>'} › ${fn.name}`;
      const saved = this.ctx.path;
      this.ctx.path = [path];
      try {
        const result = this.evalBlock(fn.body, env);
        return this.callerLabels(fn, this.checkResult(fn, result, env, owner), env);
      } finally {
        this.ctx.path = saved;
      }
    } finally {
      this.ctx.depth--;
    }
  }

  /** Bind a call's arguments: config-type checks, tensor-type unification (binding size variables), constraints. */
  private bindCall(fn: FnDecl, self: ModuleInstance | undefined, args: readonly EvaluatedArg[], span: Span, owner: string): Env {
    const file = this.ctx.program.fileOf(fn.span.file);
    const scope = new Scope();
    const env: Env = { scope, self, file, sizeLabels: new Map() };
    const matched = this.matchArgs(owner, fn.params, args, span);
    const pending: { p: Param; v: Value; span: Span }[] = [];
    fn.params.forEach((p, i) => {
      const a = matched[i];
      const v = a ? a.value : this.eval(p.default!, env);
      pending.push({ p, v, span: a?.span ?? p.default!.span });
    });
    // Non-tensor parameters first: tensor types may refer to them.
    for (const { p, v, span: s } of pending) {
      if (p.type.kind === 'type_tensor') continue;
      if (v.kind === 'none' && p.default?.kind === 'none') { scope.define(p.name, v, { span: p.span }); continue; }
      scope.define(p.name, this.checkConfigValue(p.type, v, s, `argument '${p.name}' of ${owner}`, env), { span: p.span });
    }
    for (const { p, v, span: s } of pending) {
      if (p.type.kind !== 'type_tensor') continue;
      if (v.kind === 'none' && p.default?.kind === 'none') { scope.define(p.name, v, { span: p.span }); continue; }
      if (v.kind === 'unknown') { scope.define(p.name, v, { span: p.span }); continue; }
      if (v.kind !== 'tensor') throw error(`argument '${p.name}' of ${owner} must be a tensor ${sourceText(p.type.span)}, got ${describeValue(v)}`, s);
      const t = this.unifyTensor(p.type, v.t, env, s, `argument '${p.name}' of ${owner}`, p.type.span);
      scope.define(p.name, { kind: 'tensor', t }, { span: p.span });
    }
    for (const c of fn.constraints) {
      const r = this.expectBool(this.eval(c.expr, env), c.span, 'a where-constraint');
      if (r.value === false) {
        const shown = [...scope.vars].filter(([, b]) => b.sizeVar && b.value.kind === 'int').map(([k, b]) => `${k} = ${(b.value as { dim: Dim }).dim}`);
        throw error(`${owner} requires ${sourceText(c.expr.span)}, which does not hold here (${shown.join(', ') || 'see the argument shapes'})`, span, {
          notes: [{ message: 'the constraint is declared here', span: c.span }],
          help: 'pass inputs whose sizes satisfy the constraint (for video, trim or pad the frame count)',
        });
      }
      if (r.value === undefined) this.ctx.obligation(`${owner} requires ${sourceText(c.expr.span)}`, span);
    }
    return env;
  }

  /** Evaluate a dimension expression; UnboundSize when it names a size variable not bound yet. */
  evalDim(d: DimExpr, env: Env): Dim {
    switch (d.kind) {
      case 'dim_int': return Dim.of(d.value);
      case 'dim_sym': {
        const v = this.lookupDimName(d.name, env);
        if (v === undefined) throw new UnboundSize(d.name);
        return this.expectInt(v, d.span, `'${d.name}' in a shape`);
      }
      case 'dim_neg': return this.evalDim(d.operand, env).neg();
      case 'dim_index': {
        const list = this.lookupDimName(d.name, env);
        if (list === undefined) throw new UnboundSize(d.name);
        return this.expectInt(this.indexList(list, intValue(this.evalDim(d.index, env)), d.span), d.span, `${d.name}[...] in a shape`);
      }
      case 'dim_bin': {
        const a = this.evalDim(d.left, env);
        const b = this.evalDim(d.right, env);
        try {
          switch (d.op) {
            case '+': return a.add(b);
            case '-': return a.sub(b);
            case '*': return a.mul(b);
            case '//': return a.floorDiv(b);
            case '%': return a.mod(b);
            case '/': {
              const r = a.mod(b).value;
              if (r !== undefined && r !== 0) throw error(`${a} / ${b} in a shape is not exact`, d.span, { help: "use '//' for floor division" });
              return a.floorDiv(b);
            }
          }
        } catch (err) {
          if (err instanceof DimError) throw error(err.message, d.span);
          throw err;
        }
        break;
      }
      case 'dim_infer': case 'dim_pack':
        throw error('internal: evalDim on _ or ...', d.span);
    }
    throw new Error('unreachable');
  }

  private lookupDimName(name: string, env: Env): Value | undefined {
    const b = env.scope.lookup(name);
    if (b) return b.value;
    if (env.self) {
      const m = env.self.members.get(name);
      if (m && m.kind === 'let') return m.value;
      const c = env.self.config.get(name);
      if (c) return c;
    }
    const g = env.file.scope.get(name);
    if (g && g.kind === 'const') return this.globalValue(g);
    return undefined;
  }

  /**
   * Unify a declared tensor type with an actual tensor: same dtype and rank, size variables bound
   * on first sight, every other dim required equal. Returns the tensor with the declared labels.
   */
  unifyTensor(declared: TypeExpr & { kind: 'type_tensor' }, actual: TensorValue, env: Env, span: Span, what: string, declSpan: Span): TensorValue {
    const want = sourceText(declared.span);
    const noteDecl: Note[] = [{ message: 'declared here', span: declSpan }];
    if (declared.dtype !== actual.dtype) {
      throw error(`${what} must be ${want} but is ${typeToString(actual)}: the dtype is ${actual.dtype}, not ${declared.dtype}`, span, { notes: noteDecl, help: `cast it: cast(x, ${declared.dtype})` });
    }
    const packAt = declared.dims.findIndex((d) => d.kind === 'dim_pack');
    const fixed = declared.dims.length - (packAt >= 0 ? 1 : 0);
    const rank = actual.shape.length;
    if (packAt < 0 ? rank !== fixed : rank < fixed) {
      throw error(`${what} must be ${want} (rank ${packAt < 0 ? fixed : `>= ${fixed}`}) but is ${typeToString(actual)} (rank ${rank})`, span, { notes: noteDecl, help: 'reshape or unsqueeze it to the expected rank' });
    }
    const packLen = rank - fixed;
    const labels: (string | undefined)[] = [...actual.labels];
    const pairs: { d: DimExpr; axis: number }[] = [];
    declared.dims.forEach((d, i) => {
      if (d.kind === 'dim_pack') {
        const dims = actual.shape.slice(i, i + packLen);
        const prev = env.scope.lookup(d.name);
        if (prev) {
          const items = prev.value.kind === 'list' ? prev.value.items : [];
          const ok = items.length === dims.length && items.every((it, k) => it.kind === 'int' && this.ctx.compare(it.dim, dims[k]) !== 'different');
          if (!ok) throw error(`${what} must be ${want} with ...${d.name} = [${items.map((x) => (x.kind === 'int' ? x.dim.toString() : '?')).join(', ')}], but is ${typeToString(actual)}`, span, { notes: noteDecl });
        } else {
          env.scope.define(d.name, { kind: 'list', items: dims.map((x) => intValue(x)) }, { sizeVar: true });
        }
        return;
      }
      pairs.push({ d, axis: i < packAt || packAt < 0 ? i : i + packLen - 1 });
    });
    // Bare names bind first (so B in f32[B, 2*B] binds from axis 0), then expressions are checked.
    let progress = true;
    let todo = pairs;
    while (todo.length && progress) {
      progress = false;
      const next: typeof todo = [];
      for (const { d, axis } of todo) {
        const got = actual.shape[axis];
        if (d.kind === 'dim_infer') { progress = true; continue; }
        if (d.kind === 'dim_sym' && this.lookupDimName(d.name, env) === undefined) {
          env.scope.define(d.name, intValue(got), { sizeVar: true });
          env.sizeLabels?.set(d.name, actual.labels[axis]);
          labels[axis] = d.name;
          progress = true;
          continue;
        }
        let expect: Dim;
        try {
          expect = this.evalDim(d, env);
        } catch (err) {
          if (err instanceof UnboundSize) { next.push({ d, axis }); continue; }
          throw err;
        }
        progress = true;
        if (d.kind === 'dim_sym') labels[axis] = d.name;
        this.ctx.requireEqual(got, expect, span, () => ({
          message: `${what} must be ${want} but is ${typeToString(actual)}: axis ${axis} is ${got}, expected ${sourceText(d.span)} = ${expect}`,
          notes: noteDecl,
          help: d.kind === 'dim_sym' ? `pass a tensor whose axis ${axis} is ${expect}, or change the config` : `axis ${axis} must equal ${sourceText(d.span)}`,
        }));
      }
      todo = next;
    }
    for (const { d, axis } of todo) {
      // Solve a dim linear in one unbound variable: c*S + rest == got.
      const names = [...collectNames(d)].filter((n) => this.lookupDimName(n, env) === undefined);
      if (names.length === 1) {
        const probe = new Scope(env.scope);
        probe.define(names[0], intValue(Dim.sym(`\u0000${names[0]}`)));
        const poly = this.evalDim(d, { ...env, scope: probe });
        const lin = linearIn(poly, `\u0000${names[0]}`);
        if (lin) {
          const got = actual.shape[axis];
          const solved = got.sub(lin.rest).floorDiv(lin.coef);
          this.ctx.requireEqual(solved.mul(lin.coef).add(lin.rest), got, span, () => ({
            message: `${what} must be ${want} but is ${typeToString(actual)}: axis ${axis} is ${got}, which is not of the form ${sourceText(d.span)}`,
            notes: noteDecl,
          }));
          env.scope.define(names[0], intValue(solved), { sizeVar: true });
          continue;
        }
      }
      throw error(`cannot infer ${names.join(', ')} from ${sourceText(d.span)} in ${want}`, d.span, { help: 'name each size with a bare variable on some axis first, e.g. f32[B, C] before using 2*C' });
    }
    return { ...actual, labels };
  }

  /** Check a value against a declared (non-tensor or tensor) type, e.g. of `let x: T = v`. */
  private checkDeclaredType(type: TypeExpr, v: Value, env: Env, span: Span, what: string): Value {
    if (type.kind === 'type_tensor') {
      if (v.kind === 'unknown') return v;
      if (v.kind !== 'tensor') throw error(`${what} must be a tensor ${sourceText(type.span)}, got ${describeValue(v)}`, span);
      return { kind: 'tensor', t: this.unifyTensor(type, v.t, env, span, what, type.span) };
    }
    return this.checkConfigValue(type, v, span, what, env);
  }

  /** Check a config-level value against int/float/bool/str/list/module types (ints convert to floats). */
  checkConfigValue(type: TypeExpr, v: Value, span: Span, what: string, env: Env): Value {
    if (v.kind === 'unknown') return v;
    switch (type.kind) {
      case 'type_scalar':
        if (type.name === 'float' && v.kind === 'int') return floatValue(v.dim.value);
        if (type.name === 'int' && v.kind === 'int') return v;
        if (type.name === 'float' && v.kind === 'float') return v;
        if (type.name === 'bool' && v.kind === 'bool') return v;
        if (type.name === 'str' && v.kind === 'str') return v;
        break;
      case 'type_list': {
        if (v.kind === 'symlist') return v;
        if (v.kind !== 'list' && v.kind !== 'tuple') break;
        if (type.length !== undefined && v.items.length !== type.length) {
          throw error(`${what} must be a list of ${type.length}, got ${v.items.length} item${v.items.length === 1 ? '' : 's'}`, span);
        }
        return { kind: 'list', items: v.items.map((x, i) => this.checkConfigValue(type.elem, x, span, `${what}[${i}]`, env)) };
      }
      case 'type_module':
        if (v.kind === 'module' && (type.name === null || v.inst.decl.name === type.name)) return v;
        if (v.kind === 'none') return v;
        break;
      case 'type_tensor':
        if (v.kind === 'tensor') return { kind: 'tensor', t: this.unifyTensor(type, v.t, env, span, what, type.span) };
        if (v.kind === 'none') return v;
        break;
    }
    throw error(`${what} must be ${sourceText(type.span)}, got ${describeValue(v)}`, span);
  }

  /** Check mode: a call's result from the callee's declared result type. */
  private resultFromSignature(fn: FnDecl, env: Env): Value {
    if (!fn.result) return UNKNOWN;
    const make = (t: TypeExpr): Value => {
      if (t.kind === 'type_tensor') {
        const shape: Dim[] = [];
        const labels: (string | undefined)[] = [];
        for (const d of t.dims) {
          if (d.kind === 'dim_pack') {
            const pack = env.scope.lookup(d.name)?.value;
            if (pack?.kind === 'list') for (const it of pack.items) { shape.push(it.kind === 'int' ? it.dim : this.ctx.freshDim()); labels.push(undefined); }
            else return UNKNOWN;
            continue;
          }
          if (d.kind === 'dim_infer') { shape.push(this.ctx.freshDim()); labels.push(undefined); continue; }
          for (;;) {
            try {
              shape.push(this.evalDim(d, env));
              break;
            } catch (err) {
              if (!(err instanceof UnboundSize)) throw err;
              // A size only the result names: one fresh unknown per name, shared by every item.
              env.scope.define(err.variable, intValue(this.ctx.freshDim(err.variable)), { sizeVar: true });
            }
          }
          labels.push(d.kind === 'dim_sym' ? d.name : undefined);
        }
        return { kind: 'tensor', t: { dtype: t.dtype, shape, labels, handle: undefined } };
      }
      if (t.kind === 'type_scalar') return t.name === 'int' ? intValue(this.ctx.freshDim()) : t.name === 'float' ? floatValue(undefined) : UNKNOWN;
      return UNKNOWN;
    };
    const items = fn.result.items.map((it) => make(it.type));
    if (!fn.result.tuple) return items[0];
    return { kind: 'tuple', items, names: fn.result.items.map((it) => it.name ?? null) };
  }

  /** Relabel a call's result axes with the caller's labels (see Env.sizeLabels). */
  private callerLabels(fn: FnDecl, result: Value, env: Env): Value {
    const relabel = (v: Value, t: TypeExpr | undefined): Value => {
      if (v.kind !== 'tensor') return v;
      const dims = t?.kind === 'type_tensor' && !t.dims.some((d) => d.kind === 'dim_pack') ? t.dims : undefined;
      const labels = v.t.shape.map((_, i) => {
        const d = dims?.[i];
        return d?.kind === 'dim_sym' ? env.sizeLabels?.get(d.name) : undefined;
      });
      return { kind: 'tensor', t: { ...v.t, labels } };
    };
    const items = fn.result?.items ?? [];
    if (result.kind === 'tuple') return { ...result, items: result.items.map((it, i) => relabel(it, items[i]?.type)) };
    return relabel(result, items[0]?.type);
  }

  /** Check a function's result against its declared result type; names the tuple fields. */
  checkResult(fn: FnDecl, result: Value, env: Env, owner: string): Value {
    if (!fn.result) return result;
    const rt = fn.result;
    const spanOf = fn.body.result?.span ?? fn.body.span;
    const one = (t: TypeExpr, v: Value, what: string): Value => {
      if (v.kind === 'unknown') return v;
      return this.checkDeclaredType(t, v, env, spanOf, what);
    };
    if (!rt.tuple) return one(rt.items[0].type, result, `the result of ${owner}`);
    if (result.kind !== 'tuple' || result.items.length !== rt.items.length) {
      if (result.kind === 'unknown') return result;
      throw error(`${owner} must return a tuple of ${rt.items.length}, got ${describeValue(result)}`, spanOf, { notes: [{ message: 'result type declared here', span: rt.span }] });
    }
    const items = rt.items.map((it, i) => one(it.type, result.items[i], `result ${it.name ?? i} of ${owner}`));
    return { kind: 'tuple', items, names: rt.items.map((it) => it.name ?? null) };
  }

  // =================================================================== check mode entry points

  /** Check a function body generically: parameters get their declared types with size variables. */
  checkFunctionBody(fn: FnDecl, self: ModuleInstance | undefined): void {
    const file = this.ctx.program.fileOf(fn.span.file);
    const scope = new Scope();
    const env: Env = { scope, self, file };
    const owner = self ? `${self.decl.name}.${fn.name}` : fn.name;
    const preBound = new Map<string, Dim>();
    const run = () => {
      for (const p of fn.params) {
        if (p.type.kind !== 'type_tensor') scope.define(p.name, this.genericConfigValue(p.type, p.name), { span: p.span });
      }
      // `where X % m == r` on a size variable: reparametrise X = m*q + r before anything uses X.
      for (const c of fn.constraints) {
        const e = c.expr;
        if (e.kind === 'binary' && e.op === '==' && e.left.kind === 'binary' && e.left.op === '%' && e.left.left.kind === 'name' && !scope.lookup(e.left.left.name)) {
          const m = this.eval(e.left.right, env);
          const r = this.eval(e.right, env);
          if (m.kind === 'int' && r.kind === 'int') preBound.set(e.left.left.name, reparametrize(e.left.left.name, m.dim, r.dim).value);
        }
      }
      for (const p of fn.params) {
        if (p.type.kind !== 'type_tensor') continue;
        const shape: Dim[] = [];
        const labels: (string | undefined)[] = [];
        for (const d of p.type.dims) {
          if (d.kind === 'dim_pack') {
            const prev = scope.lookup(d.name)?.value;
            const items = prev?.kind === 'list' ? prev.items : [intValue(Dim.sym(`${d.name}…`))];
            if (!prev) scope.define(d.name, { kind: 'list', items }, { sizeVar: true });
            for (const it of items) { shape.push(it.kind === 'int' ? it.dim : this.ctx.freshDim()); labels.push(undefined); }
            continue;
          }
          if (d.kind === 'dim_infer') { shape.push(this.ctx.freshDim()); labels.push(undefined); continue; }
          if (d.kind === 'dim_sym' && this.lookupDimName(d.name, env) === undefined) {
            const v = preBound.get(d.name) ?? Dim.sym(d.name);
            scope.define(d.name, intValue(v), { sizeVar: true });
          }
          try {
            shape.push(this.evalDim(d, env));
          } catch (err) {
            if (err instanceof UnboundSize) throw error(`'${err.variable}' is not bound when ${sourceText(d.span)} is evaluated`, d.span, { help: 'name it with a bare dimension on an earlier axis or parameter' });
            throw err;
          }
          labels.push(d.kind === 'dim_sym' ? d.name : undefined);
        }
        const t: TensorValue = { dtype: p.type.dtype, shape, labels, handle: undefined };
        scope.define(p.name, { kind: 'tensor', t }, { span: p.span, optional: p.default?.kind === 'none' });
      }
      for (const c of fn.constraints) this.expectBool(this.eval(c.expr, env), c.span, 'a where-constraint');
      const result = this.evalBlock(fn.body, env);
      this.checkResult(fn, result, env, owner);
    };
    try {
      run();
    } catch (err) {
      if (err instanceof KilnError) this.ctx.report(err);
      else throw err;
    }
  }

  /** A symbolic value of a config type, named after the parameter. */
  genericConfigValue(type: TypeExpr, name: string): Value {
    switch (type.kind) {
      case 'type_scalar':
        if (type.name === 'int') return intValue(Dim.sym(name));
        if (type.name === 'float') return floatValue(undefined);
        if (type.name === 'bool') return { kind: 'bool', value: undefined, sym: { text: name, neg: `not ${name}`, display: name, whenTrue: { conds: [name] }, whenFalse: { conds: [`not ${name}`] } } };
        return { kind: 'str', value: undefined };
      case 'type_list': {
        const elem = type.elem;
        const length = type.length !== undefined ? Dim.of(type.length) : Dim.sym(`len(${name})`);
        if (type.length !== undefined) {
          return { kind: 'list', items: Array.from({ length: type.length }, (_, i) => elem.kind === 'type_scalar' && elem.name === 'int' ? intValue(Dim.index(name, Dim.of(i))) : this.genericConfigValue(elem, `${name}[${i}]`)) };
        }
        return {
          kind: 'symlist', name, length,
          item: (i: Dim) => (elem.kind === 'type_scalar' && elem.name === 'int' ? intValue(Dim.index(name, i)) : this.genericConfigValue(elem, `${name}[${i}]`)),
        };
      }
      default:
        return UNKNOWN;
    }
  }

  /** Check a module declaration generically: members with a symbolic config, then each function. */
  checkModule(decl: ModuleDecl): void {
    const file = this.ctx.program.fileOf(decl.span.file);
    const scope = new Scope();
    const config = new Map<string, Value>();
    for (const p of decl.params) {
      const v = this.genericConfigValue(p.type, p.name);
      config.set(p.name, v);
      scope.define(p.name, v);
      if (p.default) {
        try {
          this.checkConfigValue(p.type, this.eval(p.default, { scope, file }), p.default.span, `the default of '${p.name}'`, { scope, file });
        } catch (err) {
          if (err instanceof KilnError) this.ctx.report(err);
          else throw err;
        }
      }
    }
    // `assert p % m == r` on an int parameter reparametrises it, as a where-clause does for sizes.
    for (const m of decl.members) {
      if (m.kind !== 'assert') continue;
      const e = m.cond;
      if (e.kind === 'binary' && e.op === '==' && e.left.kind === 'binary' && e.left.op === '%' && e.left.left.kind === 'name' && config.get(e.left.left.name)?.kind === 'int') {
        const mod = this.eval(e.left.right, { scope, file });
        const rem = this.eval(e.right, { scope, file });
        if (mod.kind === 'int' && rem.kind === 'int') {
          const v = intValue(reparametrize(e.left.left.name, mod.dim, rem.dim).value);
          config.set(e.left.left.name, v);
          scope.define(e.left.left.name, v);
        }
      }
    }
    const inst: ModuleInstance = { decl, prefix: '', config, members: new Map() };
    for (const m of decl.members) if (m.kind === 'fn') inst.members.set(m.name, { kind: 'fn', decl: m, span: m.nameSpan });
    this.evalMembers(decl.members, { scope, self: inst, file }, inst, undefined);
    for (const m of decl.members) if (m.kind === 'fn') this.checkFunctionBody(m, inst);
  }
}

function collectNames(d: DimExpr, into = new Set<string>()): Set<string> {
  switch (d.kind) {
    case 'dim_sym': into.add(d.name); break;
    case 'dim_index': into.add(d.name); collectNames(d.index, into); break;
    case 'dim_bin': collectNames(d.left, into); collectNames(d.right, into); break;
    case 'dim_neg': collectNames(d.operand, into); break;
    default: break;
  }
  return into;
}

/** poly = coef * x + rest with constant coef != 0 and x absent from rest, or undefined. */
function linearIn(poly: Dim, x: string): { coef: number; rest: Dim } | undefined {
  let coef = 0;
  let rest = Dim.of(0);
  for (const t of poly.terms) {
    const hits = t.atoms.filter((a) => a.kind === 'sym' && a.name === x).length;
    const deep = t.atoms.some((a) => a.kind !== 'sym' && atomDim(a).symbols().has(x));
    if (deep || hits > 1) return undefined;
    if (hits === 1) {
      if (t.atoms.length !== 1) return undefined;
      coef += t.coef;
    } else {
      let term = Dim.of(t.coef);
      for (const a of t.atoms) term = term.mul(atomDim(a));
      rest = rest.add(term);
    }
  }
  return coef === 0 ? undefined : { coef, rest };
}

function atomDim(a: Atom): Dim {
  switch (a.kind) {
    case 'sym': return Dim.sym(a.name);
    case 'index': return Dim.index(a.list, a.index);
    case 'floordiv': return a.num.floorDiv(a.den);
    case 'mod': return a.num.mod(a.den);
  }
}

export { UnboundSize };
