// The autotuner's on-disk cache: location, keys, atomic and merging writes, and how bad files
// and bad entries are ignored (with a warning) in favour of the heuristic.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheDir, TUNE_FILE, TuneCache } from '../../../compiler/tune/cache.ts';
import { DEFAULT_TARGET, targetKey, type Target } from '../../../compiler/target.ts';
import type { TileConfig } from '../../../compiler/codegen/tile.ts';

const dirs: string[] = [];
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'kiln-tune-cache-'));
  dirs.push(d);
  return d;
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const GPU: Target = { ...DEFAULT_TARGET, adapter: { ...DEFAULT_TARGET.adapter, vendor: 'nvidia', description: 'H200', backend: 'vulkan' } };
const tile = (wgM: number, wgN: number, rm: number, rn: number): TileConfig => ({ wgM, wgN, rm, rn, unrollK: 1, unrollTaps: false });
const SIG = 'conv3d cin8 cout8 k3x3x3 s1x1x1 row8 m~256 f32';

describe('cacheDir', () => {
  it('is $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln', () => {
    expect(cacheDir({ KILN_CACHE_DIR: '/x/y', XDG_CACHE_HOME: '/c' })).toBe('/x/y');
    expect(cacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/kiln');
    expect(cacheDir({})).toMatch(/\.cache\/kiln$/);
  });
});

describe('TuneCache', () => {
  it('misses, then hits after a save and a reload; entries are keyed by adapter and signature', () => {
    const dir = fresh();
    const warnings: string[] = [];
    const c = TuneCache.load(dir, (m) => warnings.push(m));
    expect(c.get(DEFAULT_TARGET, SIG)).toBeUndefined();
    c.set(DEFAULT_TARGET, SIG, { tiles: { contraction: tile(4, 4, 2, 2) }, ms: 1.5, heuristicMs: 2 });
    c.save();
    const again = TuneCache.load(dir, (m) => warnings.push(m));
    expect(again.get(DEFAULT_TARGET, SIG)?.tiles.contraction).toEqual(tile(4, 4, 2, 2));
    expect(again.table(DEFAULT_TARGET).lookup(SIG)).toEqual({ contraction: tile(4, 4, 2, 2) });
    // Another adapter, another signature: misses.
    expect(again.get(GPU, SIG)).toBeUndefined();
    expect(again.get(DEFAULT_TARGET, SIG.replace('cout8', 'cout16'))).toBeUndefined();
    const file = JSON.parse(readFileSync(join(dir, TUNE_FILE), 'utf8'));
    expect(Object.keys(file.adapters)).toEqual([targetKey(DEFAULT_TARGET)]);
    expect(Object.keys(file.adapters[targetKey(DEFAULT_TARGET)].entries)).toEqual([SIG]);
    expect(warnings).toEqual([]);
  });

  it('merges with entries another process saved meanwhile, and leaves no temporary files', () => {
    const dir = fresh();
    const a = TuneCache.load(dir, () => undefined);
    const b = TuneCache.load(dir, () => undefined);
    a.set(DEFAULT_TARGET, 'sig a', { tiles: { contraction: tile(2, 2, 1, 1) }, ms: 1 });
    b.set(GPU, 'sig b', { tiles: { contraction: tile(8, 8, 4, 4) }, ms: 2 });
    a.save();
    b.save();
    const c = TuneCache.load(dir, () => undefined);
    expect(c.get(DEFAULT_TARGET, 'sig a')).toBeDefined();
    expect(c.get(GPU, 'sig b')).toBeDefined();
    expect(readdirSync(dir)).toEqual([TUNE_FILE]);
  });

  it('writes atomically: a failed write leaves the old file and no temporary behind', () => {
    const dir = fresh();
    const c = TuneCache.load(dir, () => undefined);
    c.set(DEFAULT_TARGET, SIG, { tiles: { contraction: tile(4, 4, 2, 2) }, ms: 1 });
    c.save();
    const before = readFileSync(join(dir, TUNE_FILE), 'utf8');
    // The rename cannot replace a directory: make the target one, in a copy of the folder.
    const other = fresh();
    mkdirSync(join(other, TUNE_FILE));
    const d = TuneCache.load(other, () => undefined);
    d.set(DEFAULT_TARGET, SIG, { tiles: { contraction: tile(4, 4, 2, 2) }, ms: 1 });
    expect(() => d.save()).toThrow();
    expect(readdirSync(other)).toEqual([TUNE_FILE]);
    expect(readFileSync(join(dir, TUNE_FILE), 'utf8')).toBe(before);
  });

  it('ignores a corrupt file with a warning, and tuning rewrites it', () => {
    const dir = fresh();
    writeFileSync(join(dir, TUNE_FILE), '{"format": "kiln-tune", "version": 1, "adap');
    const warnings: string[] = [];
    const c = TuneCache.load(dir, (m) => warnings.push(m));
    expect(warnings.join('\n')).toMatch(/not valid JSON.*ignoring it/);
    expect(c.get(DEFAULT_TARGET, SIG)).toBeUndefined();
    c.set(DEFAULT_TARGET, SIG, { tiles: { contraction: tile(4, 4, 2, 2) }, ms: 1 });
    c.save();
    expect(TuneCache.load(dir, () => undefined).get(DEFAULT_TARGET, SIG)).toBeDefined();
  });

  it('ignores a file of another format, and entries that are malformed or beyond the device, with one warning each', () => {
    const dir = fresh();
    writeFileSync(join(dir, TUNE_FILE), JSON.stringify({ format: 'something-else', adapters: {} }));
    const w1: string[] = [];
    TuneCache.load(dir, (m) => w1.push(m));
    expect(w1.join('\n')).toMatch(/not a kiln-tune v1 file/);

    const key = targetKey(DEFAULT_TARGET);
    writeFileSync(join(dir, TUNE_FILE), JSON.stringify({
      format: 'kiln-tune', version: 1,
      adapters: { [key]: { description: '', entries: {
        huge: { tiles: { contraction: tile(64, 64, 4, 4) }, ms: 1 },
        broken: { tiles: { contraction: { wgM: 'eight' } }, ms: 1 },
        empty: { ms: 1 },
        good: { tiles: { reduction: { threadsPerRow: 64, rowsPerWorkgroup: 1 } }, ms: 1 },
      } } },
    }));
    const w2: string[] = [];
    const c = TuneCache.load(dir, (m) => w2.push(m));
    for (const sig of ['huge', 'broken', 'empty', 'huge']) expect(c.get(DEFAULT_TARGET, sig)).toBeUndefined();
    expect(c.get(DEFAULT_TARGET, 'good')?.tiles.reduction?.threadsPerRow).toBe(64);
    expect(w2).toHaveLength(3);
    expect(w2[0]).toMatch(/'huge'.*beyond the device's limits.*heuristic/);
  });
});
