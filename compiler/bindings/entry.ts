/**
 * Entry points: what `--entry NAME` names in a loaded program.
 * - `Module.fn`: function `fn` of module `Module`;
 * - `Module`: its `forward` (bindings cover every function of the module);
 * - `name`: a free function.
 * A free function has no module to bind, so it is wrapped in a synthetic module named `fn`
 * (a keyword, so it never clashes with a real module) whose only member is the function
 * itself: the function body still resolves names in its own file, and every entry then runs
 * through the same path (bindModule, ModelSession) with an empty weight set.
 */
import type { FnDecl, ModuleDecl } from '../../dsl/ast.ts';
import { PRELUDE_DIR, type GlobalDecl, type Program } from '../../dsl/program.ts';
import { EntryError } from './errors.ts';

/** The synthetic module that carries a free function (see the file comment). */
export const FREE_FUNCTION_MODULE = 'fn';

export interface Entry {
  readonly kind: 'module' | 'function';
  /** The entry as the user named it. */
  readonly name: string;
  /** The program to bind; for a free function, a view that also knows the synthetic module. */
  readonly program: Program;
  /** The module to bind (FREE_FUNCTION_MODULE for a free function). */
  readonly moduleName: string;
  /** The function a call runs (`forward` for a bare module name). */
  readonly fn: FnDecl;
  /** The functions typed bindings are emitted for: all of a module's for `Module`, else `fn`. */
  readonly functions: readonly FnDecl[];
  /** The module declaration, for module entries. */
  readonly module?: ModuleDecl;
}

/** Declarations the entry files see, imports included, the prelude's left out. */
function declared(program: Program): GlobalDecl[] {
  const out = new Map<string, GlobalDecl>();
  for (const abs of program.entries) {
    for (const d of program.files.get(abs)?.scope.values() ?? []) {
      if (!program.fileOf(d.span.file).absPath.startsWith(PRELUDE_DIR)) out.set(d.name, d);
    }
  }
  return [...out.values()];
}

function entryList(program: Program): string {
  const decls = declared(program);
  const modules = decls.filter((d): d is ModuleDecl => d.kind === 'module');
  const fns = decls.filter((d): d is FnDecl => d.kind === 'fn');
  const parts: string[] = [];
  if (modules.length) parts.push(`modules: ${modules.map((m) => m.name).join(', ')}`);
  if (fns.length) parts.push(`functions: ${fns.map((f) => f.name).join(', ')}`);
  return parts.length ? parts.join('; ') : 'the files declare no modules or functions';
}

const functionsOf = (m: ModuleDecl): FnDecl[] => m.members.filter((x): x is FnDecl => x.kind === 'fn');

/** Resolves `Module.fn`, `Module` or a free function name; EntryError listing what exists otherwise. */
export function resolveEntry(program: Program, name: string): Entry {
  const where = program.entries.map((p) => program.files.get(p)?.source.path ?? p).join(', ');
  const dot = name.indexOf('.');
  if (dot >= 0) {
    const moduleName = name.slice(0, dot);
    const fnName = name.slice(dot + 1);
    const module = program.findModule(moduleName);
    if (!module) throw new EntryError(`--entry ${name}: there is no module ${moduleName} in ${where} (${entryList(program)}).`);
    const fns = functionsOf(module);
    const fn = fns.find((f) => f.name === fnName);
    if (!fn) throw new EntryError(`--entry ${name}: module ${moduleName} has no function ${fnName}; its functions are ${fns.map((f) => f.name).join(', ') || '(none)'}.`);
    return { kind: 'module', name, program, moduleName, fn, functions: [fn], module };
  }
  const module = program.findModule(name);
  if (module) {
    const fns = functionsOf(module);
    const fn = fns.find((f) => f.name === 'forward');
    if (!fn) {
      throw new EntryError(`--entry ${name}: module ${name} has no forward function; name one with --entry ${name}.FN (${fns.map((f) => `${name}.${f.name}`).join(', ') || 'it has no functions'}).`);
    }
    return { kind: 'module', name, program, moduleName: name, fn, functions: fns, module };
  }
  const fn = program.findFunction(name);
  if (!fn) throw new EntryError(`--entry ${name}: there is no module or function named ${name} in ${where} (${entryList(program)}).`);
  return { kind: 'function', name, program: withFreeFunction(program, fn), moduleName: FREE_FUNCTION_MODULE, fn, functions: [fn] };
}

/** `program` plus the synthetic module holding `fn` (see the file comment). */
function withFreeFunction(program: Program, fn: FnDecl): Program {
  const carrier: ModuleDecl = { kind: 'module', name: FREE_FUNCTION_MODULE, nameSpan: fn.nameSpan, params: [], members: [fn], span: fn.span };
  return { ...program, findModule: (n) => (n === FREE_FUNCTION_MODULE ? carrier : program.findModule(n)) };
}
