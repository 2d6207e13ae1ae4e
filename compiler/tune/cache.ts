/**
 * The autotuner's on-disk cache: the fastest tiles found per adapter and kernel signature.
 *
 * Vocabulary
 * - Cache folder: `$KILN_CACHE_DIR` if set, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
 *   The cache is the file `tune.json` in it.
 * - Adapter key: `targetKey(target)` (backend, vendor, architecture, device, description), so
 *   a GPU server and a laptop sharing a home folder keep separate choices.
 * - Entry: the chosen tiles for one signature (signature.ts), with what tuning measured.
 *
 * Robustness: a file that cannot be read or parsed, or has another format, is ignored with a
 * warning (tuning then starts afresh and overwrites it); a malformed entry, or one whose tiles
 * exceed the device's limits, is skipped with a warning and the heuristic is used for it.
 * Saving merges with what is on disk now (another process may have tuned meanwhile; our
 * entries win) and writes a temporary file that is renamed over the old one, so a reader never
 * sees half a file.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KernelTiles } from '../codegen/common.ts';
import { type Target, targetKey } from '../target.ts';
import { tilesProblem } from './candidates.ts';
import type { TuningTable } from './table.ts';

export const CACHE_DIR_ENV = 'KILN_CACHE_DIR';
export const TUNE_FILE = 'tune.json';
const FORMAT = 'kiln-tune';
const VERSION = 1;

export interface TuneEntry {
  readonly tiles: KernelTiles;
  /** Measured time of the chosen tiles, milliseconds per run. */
  readonly ms: number;
  /** Measured time of the heuristic's tiles (the first candidate). */
  readonly heuristicMs?: number;
  /** How many candidates were timed. */
  readonly candidates?: number;
  /** An example kernel with this signature (for people reading the file). */
  readonly kernel?: string;
  readonly tunedAt?: string;
}

interface AdapterEntries {
  description: string;
  entries: Record<string, TuneEntry>;
}

interface TuneFile {
  format: string;
  version: number;
  adapters: Record<string, AdapterEntries>;
}

/** The cache folder (see the file header). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env[CACHE_DIR_ENV];
  if (own) return own;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg ? xdg : join(homedir(), '.cache'), 'kiln');
}

export type Warn = (message: string) => void;

const defaultWarn: Warn = (m) => process.stderr.write(`kiln: warning: ${m}\n`);

const emptyFile = (): TuneFile => ({ format: FORMAT, version: VERSION, adapters: {} });

/** The parsed file, or an empty one with a warning when it is missing (silently), unreadable or malformed. */
function readTuneFile(path: string, warn: Warn): TuneFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read the tuning cache ${path} (${(err as Error).message}); using heuristic tiles.`);
    return emptyFile();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    warn(`the tuning cache ${path} is not valid JSON (${(err as Error).message}); ignoring it (kiln tune rewrites it).`);
    return emptyFile();
  }
  const f = json as Partial<TuneFile>;
  if (typeof f !== 'object' || f === null || f.format !== FORMAT || f.version !== VERSION || typeof f.adapters !== 'object' || f.adapters === null) {
    warn(`the tuning cache ${path} is not a ${FORMAT} v${VERSION} file; ignoring it (kiln tune rewrites it).`);
    return emptyFile();
  }
  return f as TuneFile;
}

export class TuneCache {
  private file: TuneFile;
  /** Entries set in this process, not yet saved: adapter key -> signature -> entry. */
  private readonly dirty = new Map<string, Map<string, TuneEntry>>();
  private readonly warned = new Set<string>();

  private constructor(readonly path: string, private readonly warn: Warn) {
    this.file = readTuneFile(path, warn);
  }

  /** The cache in `dir` (default: cacheDir()). Never throws for a bad file (see the file header). */
  static load(dir: string = cacheDir(), warn: Warn = defaultWarn): TuneCache {
    return new TuneCache(join(dir, TUNE_FILE), warn);
  }

  /** The valid entry for `signature` on `target`, if any. */
  get(target: Target, signature: string): TuneEntry | undefined {
    const adapter = targetKey(target);
    const e = this.dirty.get(adapter)?.get(signature) ?? this.file.adapters[adapter]?.entries?.[signature];
    if (e === undefined) return undefined;
    const problem = typeof e === 'object' && e !== null && typeof e.tiles === 'object' && e.tiles !== null ? tilesProblem(e.tiles, target) : 'malformed entry';
    if (problem) {
      const k = `${adapter}\n${signature}`;
      if (!this.warned.has(k)) {
        this.warned.add(k);
        this.warn(`ignoring the tuning cache's entry for '${signature}' (${problem}) in ${this.path}; using heuristic tiles. Run kiln tune again to replace it.`);
      }
      return undefined;
    }
    return e;
  }

  set(target: Target, signature: string, entry: TuneEntry): void {
    const adapter = targetKey(target);
    let m = this.dirty.get(adapter);
    if (!m) this.dirty.set(adapter, (m = new Map()));
    m.set(signature, entry);
    (this.describe ??= new Map()).set(adapter, target.adapter.description || target.adapter.vendor);
  }

  private describe: Map<string, string> | undefined;

  /** Signatures with an entry for `target`. */
  signatures(target: Target): string[] {
    const adapter = targetKey(target);
    return [...new Set([...Object.keys(this.file.adapters[adapter]?.entries ?? {}), ...(this.dirty.get(adapter)?.keys() ?? [])])];
  }

  /** What compile consults for `target`. */
  table(target: Target): TuningTable {
    return { lookup: (sig) => this.get(target, sig)?.tiles };
  }

  /** Writes the entries set since loading, merged into the file as it is on disk now; atomic. */
  save(): void {
    if (this.dirty.size === 0) return;
    const merged = readTuneFile(this.path, () => undefined);
    for (const [adapter, entries] of this.dirty) {
      const slot = (merged.adapters[adapter] ??= { description: this.describe?.get(adapter) ?? '', entries: {} });
      slot.entries ??= {};
      for (const [sig, e] of entries) slot.entries[sig] = e;
    }
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}-${Date.now()}`;
    try {
      writeFileSync(tmp, `${JSON.stringify(merged, null, 1)}\n`);
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    this.file = merged;
    this.dirty.clear();
  }
}

let shared: Map<string, TuneCache> | undefined;

/** The process's cache for the current cache folder, read from disk once (compile's default lookups). */
export function sharedTuneCache(): TuneCache {
  const dir = cacheDir();
  shared ??= new Map();
  let c = shared.get(dir);
  if (!c) shared.set(dir, (c = TuneCache.load(dir)));
  return c;
}

/** Forget the shared caches (after tuning wrote new entries, or in tests). */
export function resetSharedTuneCache(): void {
  shared = undefined;
}
