/**
 * Binding: a Kiln module + a concrete config + concrete input shapes → graph IR. The module
 * tree's weight key space is checked against what a checkpoint offers (every missing,
 * unexpected and mis-shaped key reported at once) before anything is traced.
 */
import type { BackendDType } from '../dsl/backend.ts';
import type { Program } from '../dsl/program.ts';
import { TraceSession, type CallArg, type WeightSpec } from '../dsl/session.ts';
import type { ModuleInstance } from '../dsl/values.ts';
import { GraphBuilder } from './builder.ts';
import type { Graph, Node } from './ir.ts';

export class WeightBindingError extends Error {
  readonly userFacing = true;
  override name = 'WeightBindingError';

  constructor(
    readonly missing: readonly WeightSpec[],
    readonly unexpected: readonly string[],
    readonly misshaped: readonly { key: string; expected: readonly number[]; actual: readonly number[] }[],
    where: string,
  ) {
    const lines = [`the weights in ${where} do not match the module:`];
    const list = <T>(title: string, items: readonly T[], show: (t: T) => string) => {
      if (!items.length) return;
      lines.push(`  ${title} (${items.length}):`);
      for (const it of items.slice(0, 20)) lines.push(`    ${show(it)}`);
      if (items.length > 20) lines.push(`    ... and ${items.length - 20} more`);
    };
    list('missing', missing, (w) => `${w.key} [${w.shape.join(', ')}]`);
    list('unexpected', unexpected, (k) => k);
    list('wrong shape', misshaped, (m) => `${m.key}: expected [${m.expected.join(', ')}], found [${m.actual.join(', ')}]`);
    lines.push('help: check that the config matches the checkpoint (channels, layers, groups); `kiln convert --prefix` can select a sub-model\'s keys');
    super(lines.join('\n'));
  }
}

export interface AvailableWeight {
  readonly shape: readonly number[];
}

/** Compare a module's key space with a checkpoint's keys; throws WeightBindingError listing every difference. */
export function checkWeightKeys(expected: readonly WeightSpec[], available: ReadonlyMap<string, AvailableWeight>, where: string, opts: { allowUnexpected?: boolean } = {}): void {
  const missing: WeightSpec[] = [];
  const misshaped: { key: string; expected: readonly number[]; actual: readonly number[] }[] = [];
  const wanted = new Set<string>();
  for (const w of expected) {
    wanted.add(w.key);
    const a = available.get(w.key);
    if (!a) missing.push(w);
    else if (a.shape.length !== w.shape.length || a.shape.some((d, i) => d !== w.shape[i])) misshaped.push({ key: w.key, expected: w.shape, actual: a.shape });
  }
  const unexpected = opts.allowUnexpected ? [] : [...available.keys()].filter((k) => !wanted.has(k));
  if (missing.length || unexpected.length || misshaped.length) throw new WeightBindingError(missing, unexpected, misshaped, where);
}

export interface EntryCall {
  /** Function of the module to call, e.g. `forward`. */
  readonly fn: string;
  readonly args: readonly CallArg[];
  /** Output names (default: the declared result names, or `out`). */
  readonly outputs?: readonly string[];
}

export interface BoundModule {
  readonly instance: ModuleInstance;
  readonly weights: readonly WeightSpec[];
  /** Trace one call into a graph (each call makes a fresh graph). */
  trace(call: EntryCall): Graph;
}

/** Instantiate `moduleName` from a JSON config, ready to trace calls. */
export function bindModule(program: Program, moduleName: string, config: Readonly<Record<string, unknown>>): BoundModule {
  const probe = new TraceSession(program, new GraphBuilder());
  const instance = probe.instantiate(moduleName, config);
  const weights = probe.weights(instance);
  return {
    instance,
    weights,
    trace(call: EntryCall): Graph {
      const builder = new GraphBuilder();
      const session = new TraceSession(program, builder);
      const inst = session.instantiate(moduleName, config);
      const outs = session.call(inst, call.fn, call.args, call.outputs);
      return builder.graph(outs.map((o) => ({ name: o.name, node: o.handle as Node })));
    },
  };
}

export function tensorArg(name: string, shape: readonly number[], dtype: BackendDType = 'f32'): CallArg {
  return { kind: 'tensor', name, shape, dtype };
}
