/**
 * What `kiln run` and `kiln compile` share: loading and checking the Kiln files, resolving
 * `--entry`, the config from `--config FILE.json` and `--set key=value`, and `name=value`
 * option lists (`--arg`, `--shapes`). Values are JSON; a bare word (`replicate`) is a string.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../command.ts';
import { resolveEntry, type Entry } from '../../compiler/bindings/entry.ts';
import { BindingInputError, EntryError } from '../../compiler/bindings/errors.ts';
import { describeParams, entryProblem, formatSigType, functionSignature, instanceScope, NO_CONFIG, orderArguments, shapeProblem, type FunctionSig } from '../../compiler/bindings/signature.ts';
import type { CallArg } from '../../dsl/session.ts';
import { checkProgram } from '../../dsl/check.ts';
import { KilnError } from '../../dsl/diagnostics.ts';
import { loadProgram, type Program } from '../../dsl/program.ts';
import type { ModuleInstance } from '../../dsl/values.ts';

/** Absolute paths of the given Kiln files; UsageError when one is missing. */
export function sourceFiles(command: string, positionals: readonly string[]): string[] {
  if (positionals.length === 0) throw new UsageError(`give the .kiln file(s) to load (see kiln ${command} --help)`);
  return positionals.map((p) => {
    if (!existsSync(p)) throw new UsageError(`${p}: no such file`);
    if (statSync(p).isDirectory()) throw new UsageError(`${p} is a folder; give .kiln files`);
    return resolve(p);
  });
}

/** Loads and type-checks the files; a KilnError with every error found otherwise (printed as diagnostics). */
export function loadChecked(files: readonly string[]): Program {
  const program = loadProgram(files);
  const errors = checkProgram(program).diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new KilnError(errors);
  return program;
}

export function requireEntry(command: string, program: Program, name: string | undefined): Entry {
  if (!name) throw new UsageError(`--entry NAME is required: Module, Module.fn or a free function (see kiln ${command} --help)`);
  try {
    return resolveEntry(program, name);
  } catch (err) {
    // A name that is not in the files is a mistake in the command line.
    if (err instanceof EntryError) throw new UsageError(err.message);
    throw err;
  }
}

/** `key=value` → [key, value text]; UsageError naming the option when there is no `=`. */
export function splitAssignment(text: string, option: string, example: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${option} ${text}: expected NAME=VALUE, e.g. ${option} ${example}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** A JSON value; a bare word that is not JSON is taken as a string. */
export function parseValue(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(text)) return text;
    throw new UsageError(`${where}: ${JSON.stringify(text)} is not a JSON value (numbers, true/false, null, "strings", [lists]) or a bare word`);
  }
}

/** The config: a JSON object from `--config`, then each `--set key=value` on top. */
export function readConfig(configFile: string | undefined, sets: readonly string[]): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (configFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch {
      throw new UsageError(`--config ${configFile}: no such file`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--config ${configFile} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new UsageError(`--config ${configFile} must hold a JSON object of module parameters, like {"in_channels": 64}`);
    }
    config = { ...(json as Record<string, unknown>) };
  }
  for (const s of sets) {
    const [key, value] = splitAssignment(s, '--set', 'in_channels=64');
    config[key] = parseValue(value, `--set ${key}`);
  }
  return config;
}

/** A shape like `[1,3,9,32,32]` (or `1,3,9,32,32`). */
export function parseShape(text: string, where: string): number[] {
  const inner = text.trim().replace(/^\[/, '').replace(/\]$/, '').trim();
  const dims = inner === '' ? [] : inner.split(',').map((s) => s.trim());
  if (dims.some((d) => !/^\d+$/.test(d))) throw new UsageError(`${where}: ${JSON.stringify(text)} is not a shape; write it like [1,3,9,32,32]`);
  return dims.map(Number);
}

/** The entry function's signature with the config filled in. */
export function entrySignature(entry: Entry, instance: ModuleInstance | undefined): FunctionSig {
  const problem = entryProblem(entry.fn);
  if (problem) throw new UsageError(`${entryOwner(entry)} cannot be called from the command line: ${problem}`);
  return functionSignature(entry.fn, entry.kind === 'module' && instance ? instanceScope(instance) : NO_CONFIG);
}

/** The owner name used in messages: `Module.fn`, or a free function's name. */
export const entryOwner = (entry: Entry): string => (entry.kind === 'module' ? `${entry.moduleName}.${entry.fn.name}` : entry.fn.name);

/** `--shapes` and `--arg` → the trace's positional arguments. */
export function traceArguments(sig: FunctionSig, args: { readonly shapes: readonly string[]; readonly args: readonly string[] }, owner: string): CallArg[] {
  const given = new Map<string, CallArg>();
  const sizes = new Map<string, { size: number; from: string }>();
  const param = (name: string, option: string) => {
    const p = sig.params.find((q) => q.name === name);
    if (!p) throw new UsageError(`${option} ${name}: ${owner} has no parameter ${name}; its parameters are ${describeParams(sig)}`);
    return p;
  };
  for (const text of args.shapes) {
    const [name, shapeText] = splitAssignment(text, '--shapes', 'x=[1,3,9,32,32]');
    const p = param(name, '--shapes');
    if (p.kind !== 'tensor') throw new UsageError(`--shapes ${name}: ${name} is not a tensor (${p.declared}); give it with --arg ${name}=VALUE`);
    const shape = parseShape(shapeText, `--shapes ${name}`);
    const problem = shapeProblem(p, shape, sizes);
    if (problem) throw new UsageError(`--shapes ${name}=[${shape.join(', ')}] ${problem}`);
    given.set(name, { kind: 'tensor', name, shape, dtype: p.dtype });
  }
  for (const text of args.args) {
    const [name, value] = splitAssignment(text, '--arg', 'scale=0.5');
    const p = param(name, '--arg');
    if (p.kind === 'tensor') throw new UsageError(`--arg ${name}: ${name} is a tensor (${formatSigType(p.dtype, p.dims)}); give its shape with --shapes ${name}=[...]`);
    given.set(name, { kind: 'value', value: parseValue(value, `--arg ${name}`) });
  }
  try {
    return orderArguments(sig, given, (json) => ({ kind: 'value', value: json }), owner);
  } catch (err) {
    if (err instanceof BindingInputError) throw new UsageError(`${err.message}\nGive tensor shapes with --shapes NAME=[...] and other values with --arg NAME=VALUE.`);
    throw err;
  }
}

/**
 * The entry a command runs: the files loaded and checked, the `--entry` resolved, and the config
 * from `--config`/`--set` (refused for free functions, which have none).
 */
export function openEntry(command: string, args: { readonly files: readonly string[]; readonly entry?: string; readonly config?: string; readonly set: readonly string[] }): { program: Program; entry: Entry; config: Record<string, unknown> } {
  const program = loadChecked([...args.files]);
  const entry = requireEntry(command, program, args.entry);
  const config = readConfig(args.config, [...args.set]);
  if (entry.kind === 'function' && Object.keys(config).length) {
    throw new UsageError(`${entry.name} is a free function: it has no config. Pass its non-tensor parameters with --arg NAME=VALUE.`);
  }
  return { program, entry, config };
}

/** The parseArgs options every entry-running command shares (see openEntry and traceArguments). */
export const ENTRY_OPTIONS = {
  entry: { type: 'string' },
  config: { type: 'string' },
  set: { type: 'string', multiple: true, default: [] as string[] },
  arg: { type: 'string', multiple: true, default: [] as string[] },
} as const;
