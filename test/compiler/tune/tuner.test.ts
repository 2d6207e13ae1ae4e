// The autotuner with a model of time instead of a GPU: it times every candidate, keeps the
// fastest in the cache (once per signature), skips cached signatures, survives failing
// candidates, and compile then really uses the cached tiles; without an entry compile uses
// the heuristic. Candidates always fit the target.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile } from '../../../compiler/compile.ts';
import type { Graph } from '../../../compiler/ir.ts';
import type { Kernel } from '../../../compiler/kernel.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { TuneCache } from '../../../compiler/tune/cache.ts';
import { candidatesFor, contractionCandidates, tilesProblem } from '../../../compiler/tune/candidates.ts';
import { kernelSignature, sizeBucket } from '../../../compiler/tune/signature.ts';
import { tableOf } from '../../../compiler/tune/table.ts';
import { tunableKernels, tuneGraph } from '../../../compiler/tune/tuner.ts';
import { defaultContractionTile, defaultReductionConfig, elementwiseVectorsPerThread } from '../../../compiler/codegen/tile.ts';
import { attention, causalConv3d } from '../support/graphs.ts';

const dirs: string[] = [];
const freshCache = (): TuneCache => {
  const d = mkdtempSync(join(tmpdir(), 'kiln-tuner-'));
  dirs.push(d);
  return TuneCache.load(d, () => undefined);
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

const LAVAPIPE: Target = {
  ...DEFAULT_TARGET,
  limits: { ...DEFAULT_TARGET.limits, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024, maxComputeWorkgroupStorageSize: 32768 },
  adapter: { ...DEFAULT_TARGET.adapter, vendor: 'mesa', architecture: 'software', isFallbackAdapter: true, backend: 'vulkan' },
};

function convGraph(cin = 16, cout = 16, t = 3, h = 8, w = 8): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [1, cin, t, h, w], 'f32');
  const wt = b.input('w', [cout, cin, 3, 3, 3], 'f32', 'weight');
  const bias = b.input('bias', [cout], 'f32', 'weight');
  const y = causalConv3d(b, x, wt, bias);
  return b.graph([{ name: 'y', node: y }]);
}

/** conv, matmul and a sum reduction in one program (two convs share a signature). */
function mixedGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [1, 16, 3, 8, 8], 'f32');
  const w1 = b.input('w1', [16, 16, 3, 3, 3], 'f32', 'weight');
  const w2 = b.input('w2', [16, 16, 3, 3, 3], 'f32', 'weight');
  const bias = b.input('bias', [16], 'f32', 'weight');
  const c1 = causalConv3d(b, x, w1, bias);
  const c2 = causalConv3d(b, b.unary('exp', c1), w2, bias);
  const m = b.input('m', [64, 32], 'f32');
  const n = b.input('n', [32, 48], 'f32', 'weight');
  return b.graph([{ name: 'y', node: c2 }, { name: 'z', node: b.matmul(m, n) }, { name: 's', node: b.reduce('sum', c2, [2, 3, 4]) }]);
}

/** Regs of a contraction kernel, read from its header. */
const regsOf = (k: Kernel): string | undefined => /regs (\d+x\d+)/.exec(k.wgsl)?.[1];
const workgroupOf = (k: Kernel): string | undefined => /@workgroup_size\(([^)]*)\)/.exec(k.wgsl)?.[1];

describe('signatures', () => {
  it('name the op, channels, taps, stride, row length and storage exactly, and round the position count', () => {
    const one = tunableKernels(convGraph(16, 16, 3, 8, 8), LAVAPIPE).kernels[0].signature;
    expect(one).toBe(`conv3d cin16 cout16 k3x3x3 s1x1x1 row8 m~${sizeBucket(3 * 8 * 8)} f32`);
    // 4 frames instead of 3: 256 positions rounds to the same class as 192 (256).
    expect(tunableKernels(convGraph(16, 16, 4, 8, 8), LAVAPIPE).kernels[0].signature).toBe(one);
    expect(tunableKernels(convGraph(16, 32, 3, 8, 8), LAVAPIPE).kernels[0].signature).not.toBe(one);
    const f16 = tunableKernels(convGraph(), { ...LAVAPIPE, features: { ...LAVAPIPE.features, shaderF16: true } }, { storage: 'f16' }).kernels[0].signature;
    expect(f16).toBe(one.replace(/f32$/, 'f16'));
    const relaid = tunableKernels(convGraph(), LAVAPIPE, { relayoutWeights: 'upload' }).kernels[0].signature;
    expect(relaid).toBe(one.replace(' f32', ' wlast f32'));
    expect(sizeBucket(1)).toBe(1);
    expect(sizeBucket(3)).toBe(4);
    expect(sizeBucket(5)).toBe(4);
  });

  it('one tunable kernel per signature, elementwise kernels excluded', () => {
    const { kernels } = tunableKernels(mixedGraph(), LAVAPIPE);
    expect(kernels.map((k) => k.signature.split(' ')[0]).sort()).toEqual(['conv3d', 'matmul', 'reduce']);
  });
});

describe('candidates', () => {
  it('start with the heuristic and all fit the target', () => {
    for (const target of [DEFAULT_TARGET, LAVAPIPE]) {
      for (const g of [convGraph(), mixedGraph()]) {
        for (const k of tunableKernels(g, target).kernels) {
          const cands = candidatesFor(k.group, target);
          expect(cands.length).toBeGreaterThan(1);
          for (const c of cands) expect(tilesProblem(c, target)).toBeUndefined();
          expect(new Set(cands.map((c) => JSON.stringify(c))).size).toBe(cands.length);
        }
      }
    }
    expect(contractionCandidates(LAVAPIPE, 4096, 64, 32)[0]).toEqual(defaultContractionTile(LAVAPIPE, 4096, 64, 32));
  });
});

describe('heuristics per kind of adapter (what compile uses without a tuned entry)', () => {
  it('CPU adapters: 8x8 register tiles for wide outputs, 16 threads per reduced row, 4 vec4s per elementwise thread', () => {
    expect(defaultContractionTile(LAVAPIPE, 20480, 128, 64)).toMatchObject({ rm: 8, rn: 8 });
    expect(defaultContractionTile(LAVAPIPE, 20480, 16, 64)).toMatchObject({ rm: 8, rn: 4 });
    expect(defaultReductionConfig(LAVAPIPE, 32, 81920).threadsPerRow).toBe(16);
    expect([64, 8, 4, 6].map((last) => elementwiseVectorsPerThread(LAVAPIPE, last, 1 << 16))).toEqual([4, 2, 1, 0]);
    expect(elementwiseVectorsPerThread(LAVAPIPE, 64, 2048)).toBe(2);
  });

  it('GPUs: 4x4 register tiles, up to 256 threads per row, one vec4 per elementwise thread (coalesced)', () => {
    expect(defaultContractionTile(DEFAULT_TARGET, 20480, 128, 64)).toMatchObject({ rm: 4, rn: 4 });
    expect(defaultReductionConfig(DEFAULT_TARGET, 32, 81920).threadsPerRow).toBe(256);
    expect(elementwiseVectorsPerThread(DEFAULT_TARGET, 64, 1 << 16)).toBe(1);
  });
});

describe('tuneGraph', () => {
  it('keeps the fastest candidate per signature, and compile then uses it', async () => {
    const cache = freshCache();
    const g = convGraph();
    const timed: string[] = [];
    // A model of time: the 4x8 register tile (rm 4, rn 8) is fastest, all else slower.
    const timer = async (k: Kernel): Promise<number> => {
      timed.push(regsOf(k)!);
      return regsOf(k) === '4x8' ? 1 : 5 + timed.length;
    };
    const results = await tuneGraph(g, LAVAPIPE, timer, cache);
    expect(results).toHaveLength(1);
    expect(results[0].fromCache).toBe(false);
    expect(results[0].chosen.contraction).toMatchObject({ rm: 4, rn: 8 });
    // Every candidate once, the heuristic a second time (first-use costs do not count against
    // it), then two confirmation rounds of the winner and the heuristic in turn, whose times
    // are the ones reported.
    const count = candidatesFor(tunableKernels(g, LAVAPIPE).kernels[0].group, LAVAPIPE).length;
    expect(timed.length).toBe(count + 1 + 4);
    expect(timed.slice(count)).toEqual(['8x4', '4x8', '8x4', '4x8', '8x4']);
    expect(results[0].ms).toBe(1);
    expect(results[0].heuristicMs).toBe(5 + count + 3);

    const heuristic = compile(g, LAVAPIPE, {});
    const tuned = compile(g, LAVAPIPE, { tuning: cache.table(LAVAPIPE) });
    expect(regsOf(heuristic.kernels[0])).toBe('8x4');
    expect(regsOf(tuned.kernels[0])).toBe('4x8');

    // Cached now: a second run times nothing.
    timed.length = 0;
    const again = await tuneGraph(g, LAVAPIPE, timer, TuneCache.load(dirs[0], () => undefined));
    expect(again[0].fromCache).toBe(true);
    expect(timed).toEqual([]);
  });

  it('keeps the heuristic when a candidate won its one timing by noise and loses the confirmation rounds', async () => {
    const cache = freshCache();
    const g = convGraph();
    const seen = new Map<string, number>();
    // The heuristic (8x4) always takes 5; 4x8 took 1 once (a quiet moment) and 7 every time after.
    const results = await tuneGraph(g, LAVAPIPE, async (k) => {
      const regs = regsOf(k)!;
      const n = (seen.get(regs) ?? 0) + 1;
      seen.set(regs, n);
      return regs === '8x4' ? 5 : regs === '4x8' && n === 1 ? 1 : 7;
    }, cache);
    expect(results[0].chosen.contraction).toMatchObject({ rm: 8, rn: 4 });
    expect(results[0].ms).toBe(5);
    expect(compile(g, LAVAPIPE, { tuning: cache.table(LAVAPIPE) }).kernels.map(regsOf)).toEqual(['8x4']);
  });

  it('skips candidates whose timing fails, and keeps the heuristic when every one fails', async () => {
    const cache = freshCache();
    const g = convGraph();
    const results = await tuneGraph(g, LAVAPIPE, async (k) => {
      if (regsOf(k) !== '8x8') throw new Error('device lost');
      return 3;
    }, cache);
    expect(results[0].chosen.contraction).toMatchObject({ rm: 8, rn: 8 });
    for (const c of results[0].candidates) expect(c.error === undefined ? c.tiles.contraction?.rn : c.error).toBe(c.error === undefined ? 8 : 'device lost');
    const none = await tuneGraph(g, LAVAPIPE, async () => { throw new Error('no'); }, freshCache(), { force: true });
    expect(Number.isNaN(none[0].ms)).toBe(true);
  });

  it('tunes a conv, a matmul and a reduction of one program, each once', async () => {
    const cache = freshCache();
    const seen = new Map<string, number>();
    const results = await tuneGraph(mixedGraph(), LAVAPIPE, async (k) => {
      seen.set(k.kind, (seen.get(k.kind) ?? 0) + 1);
      return k.wgsl.length % 97;
    }, cache);
    expect(results.map((r) => r.kind).sort()).toEqual(['conv', 'matmul', 'reduction']);
    expect(cache.signatures(LAVAPIPE)).toHaveLength(3);
    const tuned = compile(mixedGraph(), LAVAPIPE, { tuning: cache.table(LAVAPIPE) });
    expect(tuned.kernels.length).toBe(compile(mixedGraph(), LAVAPIPE).kernels.length);
  });
});

describe('tuning with subgroup matrices (a model of time; the kernels are compiled, not run)', () => {
  const SUPPORT = { subgroupMaxSize: 32, configs: [{ M: 8, N: 8, K: 8, componentType: 'f32' as const, resultComponentType: 'f32' as const }] };
  function matmulGraph(m: number, k: number, n: number): Graph {
    const b = new GraphBuilder();
    const a = b.input('a', [m, k], 'f32');
    const w = b.input('w', [k, n], 'f32', 'weight');
    return b.graph([{ name: 'y', node: b.matmul(a, w) }]);
  }
  const fragmentsOf = (k: Kernel): string | undefined => /(\d+x\d+) fragments per subgroup/.exec(k.wgsl)?.[1];

  it('tries the heuristic, then fragment counts, then register tiles with subgroup matrices off; all are valid entries', () => {
    const g = matmulGraph(64, 32, 64);
    const cands = candidatesFor(tunableKernels(g, LAVAPIPE).kernels[0].group, LAVAPIPE, SUPPORT);
    expect(cands[0].subgroupMatrix).toBeUndefined();
    expect(cands.filter((c) => c.subgroupMatrix !== undefined && c.subgroupMatrix !== 'off').map((c) => (c.subgroupMatrix as { readonly fragments: readonly number[] }).fragments.join('x')))
      .toEqual(['1x1', '2x1', '1x2', '2x2', '4x2', '2x4', '4x4']);
    expect(cands.filter((c) => c.subgroupMatrix === 'off').length).toBeGreaterThan(3);
    for (const c of cands) expect(tilesProblem(c, LAVAPIPE)).toBeUndefined();
    expect(tilesProblem({ contraction: cands[0].contraction, subgroupMatrix: { fragments: [0, 2] } }, LAVAPIPE)).toBe('malformed subgroup-matrix choice');
  });

  it('caches the fastest fragment count, and compile then uses it', async () => {
    const g = matmulGraph(64, 32, 64);
    const cache = freshCache();
    const results = await tuneGraph(g, LAVAPIPE, async (k) => (fragmentsOf(k) === '4x2' ? 1 : 4), cache, { subgroupMatrix: SUPPORT });
    expect(results[0].chosen.subgroupMatrix).toEqual({ fragments: [4, 2] });
    const tuned = compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT, tuning: cache.table(LAVAPIPE) });
    expect(fragmentsOf(tuned.kernels[0])).toBe('4x2');
    expect(fragmentsOf(compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT }).kernels[0])).toBe('2x2');
  });

  it('turns subgroup matrices off when register tiles are faster, and times code it has seen once', async () => {
    // 48 rows: 4 fragments of 8 do not divide them, so 4x2, 4x4 fall back to the heuristic's 2x2 (same code).
    const g = matmulGraph(48, 32, 64);
    const cache = freshCache();
    let timed = 0;
    const results = await tuneGraph(g, LAVAPIPE, async (k) => {
      timed++;
      return k.wgsl.includes('subgroup_matrix') ? 3 : 2;
    }, cache, { subgroupMatrix: SUPPORT });
    const count = candidatesFor(tunableKernels(g, LAVAPIPE).kernels[0].group, LAVAPIPE, SUPPORT).length;
    expect(results[0].candidates).toHaveLength(count);
    // The heuristic (2x2) and its duplicates 2x2, 4x2, 4x4 were timed once between them; then its re-timing and two confirmation rounds.
    expect(timed).toBe(count - 3 + 1 + 4);
    expect(results[0].chosen.subgroupMatrix).toBe('off');
    const tuned = compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT, tuning: cache.table(LAVAPIPE) });
    expect(tuned.kernels[0].wgsl).not.toContain('subgroup_matrix');
  });

  it('tunes a convolution\'s fragment counts too, and compile then uses the choice', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 16, 3, 6, 40], 'f32');
    const w = b.input('w', [32, 16, 3, 3, 3], 'f32', 'weight');
    const g = b.graph([{ name: 'y', node: b.conv(x, w, [1, 1, 1]) }]);
    const cands = candidatesFor(tunableKernels(g, LAVAPIPE).kernels[0].group, LAVAPIPE, SUPPORT);
    expect(cands.filter((c) => c.subgroupMatrix !== undefined && c.subgroupMatrix !== 'off')).toHaveLength(7);
    expect(cands.filter((c) => c.subgroupMatrix === 'off').length).toBeGreaterThan(3);
    const cache = freshCache();
    const results = await tuneGraph(g, LAVAPIPE, async (k) => (fragmentsOf(k) === '4x2' ? 1 : 4), cache, { subgroupMatrix: SUPPORT });
    expect(results[0].chosen.subgroupMatrix).toEqual({ fragments: [4, 2] });
    expect(fragmentsOf(compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT, tuning: cache.table(LAVAPIPE) }).kernels[0])).toBe('4x2');
    expect(fragmentsOf(compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT }).kernels[0])).toBe('2x2');
  });
});

describe('tuning attention with subgroup matrices (a model of time; the kernels are compiled, not run)', () => {
  const SUPPORT = { subgroupMaxSize: 32, configs: [{ M: 8, N: 8, K: 8, componentType: 'f32' as const, resultComponentType: 'f32' as const }] };
  function attentionGraph(): Graph {
    const b = new GraphBuilder();
    const [q, k, v] = ['q', 'k', 'v'].map((n) => b.input(n, [2, 40, 16], 'f32'));
    return b.graph([{ name: 'o', node: attention(b, q, k, v) }]);
  }
  const onTensorCores = (k: Kernel): boolean => k.wgsl.includes('on subgroup matrices');

  it('tries the subgroup-matrix kernel first, then its fragment counts, then the scalar configurations with subgroup matrices off', () => {
    const cands = candidatesFor(tunableKernels(attentionGraph(), LAVAPIPE).kernels[0].group, LAVAPIPE, SUPPORT);
    expect(cands[0].subgroupMatrix).toBeUndefined();
    expect(cands.slice(1, 8).map((c) => (c.subgroupMatrix as { readonly fragments: readonly number[] }).fragments.join('x')))
      .toEqual(['1x1', '2x1', '1x2', '2x2', '4x2', '2x4', '4x4']);
    expect(cands.slice(8).every((c) => c.subgroupMatrix === 'off' && c.attention !== undefined)).toBe(true);
    expect(cands.length).toBeGreaterThan(9);
    for (const c of cands) expect(tilesProblem(c, LAVAPIPE)).toBeUndefined();
    expect(candidatesFor(tunableKernels(attentionGraph(), LAVAPIPE).kernels[0].group, LAVAPIPE).every((c) => c.subgroupMatrix === undefined)).toBe(true);
  });

  it('caches the fastest fragment counts (query rows, keys), and compile then uses them', async () => {
    const g = attentionGraph();
    const cache = freshCache();
    const tilesOf = (k: Kernel): string | undefined => /(\d+ queries by \d+-key) tiles/.exec(k.wgsl)?.[1];
    await tuneGraph(g, LAVAPIPE, async (k) => (tilesOf(k) === '16 queries by 8-key' ? 1 : 3), cache, { subgroupMatrix: SUPPORT });
    const tuned = compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT, tuning: cache.table(LAVAPIPE) });
    expect(tilesOf(tuned.kernels[0])).toBe('16 queries by 8-key');
    expect(tilesOf(compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT }).kernels[0])).not.toBe('16 queries by 8-key');
  });

  for (const fasterOnTensorCores of [true, false]) {
    it(`keeps ${fasterOnTensorCores ? 'the subgroup-matrix kernel' : 'a scalar configuration'} when it is faster, and compile then uses it`, async () => {
      const g = attentionGraph();
      const cache = freshCache();
      await tuneGraph(g, LAVAPIPE, async (k) => (onTensorCores(k) === fasterOnTensorCores ? 1 : 3), cache, { subgroupMatrix: SUPPORT });
      const tuned = compile(g, LAVAPIPE, { subgroupMatrix: SUPPORT, tuning: cache.table(LAVAPIPE) });
      expect(onTensorCores(tuned.kernels[0])).toBe(fasterOnTensorCores);
    });
  }
});

describe('compile with a tuning table', () => {
  it('uses an entry for the kernel\'s signature, the heuristic elsewhere, and tests\' global tiles over both', () => {
    const g = convGraph();
    const sig = kernelSignature(tunableKernels(g, LAVAPIPE).kernels[0].group, 'f32')!;
    const table = tableOf({ [sig]: { contraction: { wgM: 2, wgN: 4, rm: 2, rn: 1, unrollK: 1, unrollTaps: false } } });
    const tuned = compile(g, LAVAPIPE, { tuning: table });
    expect(regsOf(tuned.kernels[0])).toBe('2x1');
    expect(workgroupOf(tuned.kernels[0])).toBe('4, 2, 1');
    // No entry for another shape class: the same kernel as without a table.
    const other = convGraph(16, 32);
    expect(compile(other, LAVAPIPE, { tuning: table }).kernels.map((k) => k.wgsl)).toEqual(compile(other, LAVAPIPE).kernels.map((k) => k.wgsl));
    const forced = compile(g, LAVAPIPE, { tuning: table, tiles: { contraction: { wgM: 4, wgN: 4, rm: 4, rn: 2, unrollK: 1, unrollTaps: false } } });
    expect(regsOf(forced.kernels[0])).toBe('4x2');
  });
});
