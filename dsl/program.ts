/**
 * Loading a Kiln program: source files, their imports (paths relative to the importing file),
 * and the prelude, which every file sees. Each file has its own global scope: the prelude, the
 * declarations of the files it imports, then its own (its own win; two imports that define the
 * same name are an error only when the name is used ambiguously... kept simple: an error at load).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConstDecl, Decl, FileAst, FnDecl, ModuleDecl } from './ast.ts';
import { error, KilnError, type Diagnostic } from './diagnostics.ts';
import { parseFile } from './parser.ts';
import { SourceFile, type Span } from './source.ts';

export type GlobalDecl = ModuleDecl | FnDecl | ConstDecl;

export interface LoadedFile {
  readonly source: SourceFile;
  readonly ast: FileAst;
  /** Absolute path (the key in Program.files). */
  readonly absPath: string;
  readonly scope: Map<string, GlobalDecl>;
}

export interface Program {
  readonly files: ReadonlyMap<string, LoadedFile>;
  /** Absolute paths of the files the program was loaded from (not imports or prelude). */
  readonly entries: readonly string[];
  /** The file a span/source belongs to. */
  fileOf(source: SourceFile): LoadedFile;
  /** A module declared in (or imported by) the entry files, by name. */
  findModule(name: string): ModuleDecl | undefined;
  findFunction(name: string): FnDecl | undefined;
}

export const PRELUDE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'prelude');
const PRELUDE_FILES = ['prelude.kiln', 'nn.kiln'];

export interface LoadOptions {
  /** Override file reading (tests use in-memory sources). Paths are absolute. */
  readFile?: (absPath: string) => string | undefined;
  /** Include the prelude (default true). */
  prelude?: boolean;
}

function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel.startsWith('..') ? abs : rel;
}

/**
 * A model's program, loaded the first time it is asked for and kept: sources are read and
 * checked once per process. `files` are relative to `moduleUrl` (the caller's import.meta.url).
 */
export function lazyProgram(moduleUrl: string, files: readonly string[]): () => Program {
  const paths = files.map((f) => resolve(dirname(fileURLToPath(moduleUrl)), f));
  let program: Program | undefined;
  return () => (program ??= loadProgram(paths));
}

export function loadProgram(paths: readonly string[], opts: LoadOptions = {}): Program {
  const read = opts.readFile ?? ((p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined));
  const files = new Map<string, LoadedFile>();
  const diagnostics: Diagnostic[] = [];

  const load = (abs: string, importedFrom?: { span: Span }): LoadedFile | undefined => {
    const known = files.get(abs);
    if (known) return known;
    const text = read(abs);
    if (text === undefined) {
      const msg = `cannot read ${displayPath(abs)}: no such file`;
      if (importedFrom) throw error(msg, importedFrom.span, { help: 'import paths are relative to the importing file' });
      throw new KilnError([{ severity: 'error', message: msg, help: 'check the path; Kiln source files end in .kiln' }]);
    }
    const source = new SourceFile(displayPath(abs), text);
    const ast = parseFile(source);
    const file: LoadedFile = { source, ast, absPath: abs, scope: new Map() };
    files.set(abs, file);
    for (const d of ast.decls) {
      if (d.kind === 'import') load(resolve(dirname(abs), d.path), { span: d.span });
    }
    return file;
  };

  const preludeFiles: LoadedFile[] = [];
  if (opts.prelude !== false) {
    for (const name of PRELUDE_FILES) {
      const abs = resolve(PRELUDE_DIR, name);
      const text = readFileSync(abs, 'utf8');
      const source = new SourceFile(displayPath(abs), text);
      const f: LoadedFile = { source, ast: parseFile(source), absPath: abs, scope: new Map() };
      files.set(abs, f);
      preludeFiles.push(f);
    }
  }
  const entries = paths.map((p) => resolve(p));
  for (const abs of entries) load(abs);

  const ownDecls = (f: LoadedFile): GlobalDecl[] => f.ast.decls.filter((d): d is GlobalDecl => d.kind !== 'import');

  // Scopes: prelude (all prelude files see each other), imports, own declarations.
  for (const f of files.values()) {
    const define = (d: GlobalDecl, own: boolean) => {
      const prev = f.scope.get(d.name);
      if (prev === d) return;
      if (prev && own && prev.span.file === d.span.file) {
        diagnostics.push({
          severity: 'error', message: `'${d.name}' is defined twice in ${f.source.path}`, span: d.nameSpan,
          notes: [{ message: 'first defined here', span: prev.nameSpan }], help: 'rename one of them',
        });
        return;
      }
      f.scope.set(d.name, d);
    };
    for (const p of preludeFiles) for (const d of ownDecls(p)) define(d, false);
    for (const d of f.ast.decls) {
      if (d.kind !== 'import') continue;
      const dep = files.get(resolve(dirname(f.absPath), d.path));
      if (dep) for (const dd of ownDecls(dep)) define(dd, false);
    }
    for (const d of ownDecls(f)) define(d, true);
  }
  if (diagnostics.length) throw new KilnError(diagnostics);

  const byPath = new Map<SourceFile, LoadedFile>();
  for (const f of files.values()) byPath.set(f.source, f);

  const findIn = <K extends GlobalDecl['kind']>(kind: K, name: string): Extract<GlobalDecl, { kind: K }> | undefined => {
    for (const abs of entries) {
      const d = files.get(abs)?.scope.get(name);
      if (d && d.kind === kind) return d as Extract<GlobalDecl, { kind: K }>;
    }
    return undefined;
  };

  return {
    files,
    entries,
    fileOf(source: SourceFile): LoadedFile {
      const f = byPath.get(source);
      if (!f) throw new Error(`internal: unknown source file ${source.path}`);
      return f;
    },
    findModule: (name) => findIn('module', name),
    findFunction: (name) => findIn('fn', name),
  };
}

/** Load in-memory sources (tests, the golden runner's generated glue). Keys are file paths. */
export function loadSources(sources: Record<string, string>, entry: string | string[], opts: Omit<LoadOptions, 'readFile'> = {}): Program {
  const table = new Map(Object.entries(sources).map(([p, t]) => [resolve(p), t]));
  return loadProgram(Array.isArray(entry) ? entry : [entry], {
    ...opts,
    readFile: (abs) => table.get(abs) ?? (existsSync(abs) ? readFileSync(abs, 'utf8') : undefined),
  });
}

export type { Decl };
