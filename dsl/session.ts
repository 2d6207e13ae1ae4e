/**
 * A trace session: the dsl's entry point for binding. It instantiates a module with a concrete
 * config (JSON, as found in checkpoints' config files and golden metadata), lists its weight
 * key space, and calls its functions on concrete tensor inputs, emitting every op to the
 * backend (the compiler's GraphBuilder).
 */
import type { ModuleDecl, TypeExpr } from './ast.ts';
import type { TensorBackend, BackendDType } from './backend.ts';
import { Dim } from './dims.ts';
import { error, KilnError } from './diagnostics.ts';
import { Ctx } from './elaborate/context.ts';
import { Elaborator, type EvaluatedArg } from './elaborate/elaborator.ts';
import type { Program } from './program.ts';
import type { Span } from './source.ts';
import { describeValue, floatValue, intValue, NONE, type ModuleInstance, type TensorValue, type Value } from './values.ts';

export interface WeightSpec {
  readonly key: string;
  readonly shape: readonly number[];
  readonly dtype: BackendDType;
}

export interface TensorInput {
  readonly kind: 'tensor';
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: BackendDType;
}

/** A call argument: a tensor input of the graph, or a config-like JSON value. */
export type CallArg = TensorInput | { readonly kind: 'value'; readonly value: unknown };

export interface TraceOutput {
  readonly name: string;
  readonly handle: unknown;
  readonly shape: readonly number[];
  readonly dtype: BackendDType;
}

/** Convert a JSON config value to a Kiln value, guided by the declared type when there is one. */
export function valueFromJson(json: unknown, type: TypeExpr | undefined, where: string, span?: Span): Value {
  if (json === null || json === undefined) return NONE;
  if (typeof json === 'boolean') return { kind: 'bool', value: json };
  if (typeof json === 'string') return { kind: 'str', value: json };
  if (typeof json === 'number') {
    const wantsFloat = type?.kind === 'type_scalar' && type.name === 'float';
    if (Number.isInteger(json) && !wantsFloat) return intValue(json);
    if (type?.kind === 'type_scalar' && type.name === 'int') throw error(`${where} must be an int, got ${json}`, span);
    return floatValue(json);
  }
  if (Array.isArray(json)) {
    const elem = type?.kind === 'type_list' ? type.elem : undefined;
    return { kind: 'list', items: json.map((x, i) => valueFromJson(x, elem, `${where}[${i}]`, span)) };
  }
  throw new KilnError([{ severity: 'error', message: `${where}: ${JSON.stringify(json)} is not a config value (numbers, bools, strings, lists)` }]);
}

export class TraceSession {
  readonly ctx: Ctx;
  readonly el: Elaborator;
  private readonly span: Span;

  constructor(readonly program: Program, backend: TensorBackend) {
    this.ctx = new Ctx('trace', program, backend);
    this.el = new Elaborator(this.ctx);
    const file = program.files.get(program.entries[0]) ?? [...program.files.values()][0];
    this.span = { file: file.source, start: 0, end: 0 };
  }

  findModule(name: string): ModuleDecl {
    const decl = this.program.findModule(name);
    if (!decl) {
      const known = [...new Set([...this.program.entries].flatMap((p) => [...this.program.files.get(p)!.scope.values()].filter((d) => d.kind === 'module').map((d) => d.name)))];
      throw new KilnError([{ severity: 'error', message: `no module named ${name} in ${this.program.entries.join(', ')}`, help: known.length ? `modules: ${known.join(', ')}` : 'declare one with `module Name(...) { ... }`' }]);
    }
    return decl;
  }

  /** Instantiate a module from a JSON config (keyword arguments by parameter name) and place it at the root. */
  instantiate(moduleName: string, config: Readonly<Record<string, unknown>>): ModuleInstance {
    const decl = this.findModule(moduleName);
    const unknown = Object.keys(config).filter((k) => !decl.params.some((p) => p.name === k));
    if (unknown.length) {
      throw error(`module ${decl.name} has no parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`, decl.nameSpan, {
        help: `its parameters are (${decl.params.map((p) => p.name).join(', ')})`,
      });
    }
    const args: EvaluatedArg[] = Object.entries(config).map(([name, json]) => {
      const p = decl.params.find((q) => q.name === name)!;
      return { name, value: valueFromJson(json, p.type, `config '${name}' of ${decl.name}`, p.span), span: p.span };
    });
    const inst = this.el.instantiate(decl, args, decl.nameSpan);
    this.el.place(inst, '');
    return inst;
  }

  /** Every weight of the module tree with its state-dict key, in declaration order (own weights first, as PyTorch). */
  weights(inst: ModuleInstance): WeightSpec[] {
    const out: WeightSpec[] = [];
    const walk = (m: ModuleInstance) => {
      for (const mv of m.members.values()) {
        if (mv.kind !== 'weight') continue;
        out.push({ key: m.prefix + mv.name, shape: mv.type.shape.map((d) => d.value!), dtype: mv.type.dtype });
      }
      for (const mv of m.members.values()) {
        if (mv.kind !== 'submodule') continue;
        const v = mv.value;
        if (v.kind === 'module') walk(v.inst);
        else if (v.kind === 'list') for (const it of v.items) if (it.kind === 'module') walk(it.inst);
      }
    };
    walk(inst);
    return out;
  }

  /** Call `fnName` of the instance; tensor arguments become graph inputs. Returns the named outputs. */
  call(inst: ModuleInstance, fnName: string, args: readonly CallArg[], outputNames?: readonly string[]): TraceOutput[] {
    const m = inst.members.get(fnName);
    if (!m || m.kind !== 'fn') {
      const fns = [...inst.members.values()].filter((x) => x.kind === 'fn').map((x) => (x as { decl: { name: string } }).decl.name);
      throw new KilnError([{ severity: 'error', message: `module ${inst.decl.name} has no function '${fnName}'`, span: inst.decl.nameSpan, help: `its functions are: ${fns.join(', ') || '(none)'}` }]);
    }
    const fn = m.decl;
    const evaluated: EvaluatedArg[] = args.map((a, i) => {
      const p = fn.params[i];
      const span = p?.span ?? fn.nameSpan;
      if (a.kind === 'value') return { value: valueFromJson(a.value, p?.type, `argument ${i} of ${fnName}`, span), span };
      const handle = this.ctx.emit('input', span, (b) => b.input(a.name, a.shape, a.dtype, 'input'));
      const t: TensorValue = { dtype: a.dtype, shape: a.shape.map((d) => Dim.of(d)), labels: a.shape.map(() => undefined), handle };
      return { value: { kind: 'tensor', t }, span };
    });
    const result = this.el.callFunction(fn, inst, evaluated, fn.nameSpan);
    return this.outputs(result, fn.result?.items.map((it) => it.name) ?? [], outputNames, `${inst.decl.name}.${fnName}`);
  }

  private outputs(result: Value, declaredNames: readonly (string | undefined)[], names: readonly string[] | undefined, owner: string): TraceOutput[] {
    const items = result.kind === 'tuple' ? result.items : [result];
    return items.map((v, i) => {
      if (v.kind !== 'tensor') throw new KilnError([{ severity: 'error', message: `${owner} returned ${describeValue(v)} as output ${i}; entry points must return tensors` }]);
      const name = names?.[i] ?? (result.kind === 'tuple' ? (result.names?.[i] ?? declaredNames[i] ?? `out${i}`) : 'out');
      return { name, handle: v.t.handle, shape: v.t.shape.map((d) => d.value!), dtype: v.t.dtype };
    });
  }
}
