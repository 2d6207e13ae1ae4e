// RESULTS.md from results.json entries: the targets table says met / not met from the
// entries' ratios for each adapter, every suite section carries its command (and says when the
// suite failed), and the tiled-memory table is assembled from its entries. recordSuite merges
// one suite's figures into results.json per adapter.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../bench/harness.ts';
import { renderResults, type RunInfo } from '../../bench/report.ts';
import { recordSuite } from '../../bench/suite.ts';

const e = (name: string, value: number, ratio: number | null, suite: string, note?: string, adapter = 'test adapter'): Entry => ({ name, value, unit: 'x', vs: ratio === null ? null : 'baseline', ratio, adapter, command: `kiln bench ${suite}`, suite, ...(note ? { note } : {}) });
const run = (suite: string, more: Partial<RunInfo> = {}): RunInfo => ({ suite, command: `kiln bench ${suite}`, date: '2026-01-01T00:00:00Z', adapter: 'test adapter', cpu: 'cpu', node: 'v20', torch: 'none', seconds: 1, ...more });

describe('renderResults', () => {
  it('reports each target as met or not met, and each suite with its command', () => {
    const md = renderResults([
      e('conv3d_vs_handwritten', 20, 1.05, 'contractions'),
      e('matmul_vs_handwritten', 10, 0.8, 'contractions'),
      e('groupnorm_silu_vs_copy_bandwidth', 3, 0.3, 'bandwidth'),
      e('vae_decoder_standalone_elementwise_kernels', 0, null, 'vae'),
    ], [run('contractions'), run('bandwidth'), run('vae')], [{ name: 'contractions', title: 'C' }, { name: 'bandwidth', title: 'B' }, { name: 'vae', title: 'V' }]);
    expect(md).toContain('| target | test adapter |');
    expect(md).toMatch(/generated conv3d >= 1.0x the hand-written baseline \| 1.05x \(20 GFLOP\/s\): met \|/);
    expect(md).toMatch(/generated matmul >= 1.0x the hand-written baseline \| 0.8x \(10 GFLOP\/s\): \*\*not met\*\* \|/);
    expect(md).toMatch(/GroupNorm\+SiLU >= 50% of copy bandwidth \| 30% \(3 GB\/s\): \*\*not met\*\* \|/);
    expect(md).toMatch(/no standalone elementwise kernel \| 0 kernels: met \|/);
    expect(md).toMatch(/residual add >= 50% of copy bandwidth \| not measured \|/);
    expect(md).toContain('## C (`contractions`)\n\nCommand: `kiln bench contractions`');
  });

  it('gives each adapter its own column of targets and its own sections, and says which suite failed', () => {
    const md = renderResults([
      e('conv3d_vs_handwritten', 20, 1.05, 'contractions'),
      e('conv3d_vs_handwritten', 900, 1.4, 'contractions', undefined, 'NVIDIA H200'),
    ], [run('contractions'), run('contractions', { adapter: 'NVIDIA H200', failed: 'the subgroup-matrix matmul disagrees' })], [{ name: 'contractions', title: 'C' }]);
    expect(md).toContain('| target | test adapter | NVIDIA H200 |');
    expect(md).toMatch(/the hand-written baseline \| 1.05x \(20 GFLOP\/s\): met \| 1.4x \(900 GFLOP\/s\): met \|/);
    expect(md).toContain('## On test adapter\n\n### C (`contractions`)');
    expect(md).toContain('## On NVIDIA H200\n\n### C (`contractions`)');
    expect(md).toContain('**Failed** after recording the figures below: the subgroup-matrix matmul disagrees');
    expect(md).toContain('| 1 s — **failed**: the subgroup-matrix matmul disagrees |');
  });

  it('builds the tiled-memory table from its entries', () => {
    const entries = ['untiled', 'tiled'].flatMap((m) => [8, 16].flatMap((s) => [
      e(`tiled_decode_${m}_latent${s}_planned_peak`, m === 'tiled' ? 3 : s, null, 'tiled-memory', `output ${8 * s}x${8 * s}x5 frames, ${m === 'tiled' ? s / 2 : 1} tiles`),
      e(`tiled_decode_${m}_latent${s}_measured_peak`, m === 'tiled' ? 4 : s + 1, null, 'tiled-memory'),
      e(`tiled_decode_${m}_latent${s}_ms`, 10 * s, null, 'tiled-memory'),
    ]));
    const md = renderResults(entries, [run('tiled-memory')], [{ name: 'tiled-memory', title: 'T' }]);
    expect(md).toContain('| 8 | 64x64x5 | 8 MiB | 9 MiB | 80 ms | 3 MiB | 4 MiB | 80 ms | 4 |');
    expect(md).toContain('| 16 | 128x128x5 | 16 MiB | 17 MiB | 160 ms | 3 MiB | 4 MiB | 160 ms | 8 |');
  });
});

describe('recordSuite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const read = <T>(f: string): T => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T;

  it("replaces a suite's figures from the same adapter only, and writes RESULTS.md each time", () => {
    recordSuite(dir, 'contractions', [e('a', 1, null, 'contractions'), e('b', 2, null, 'contractions')], run('contractions'));
    recordSuite(dir, 'bandwidth', [e('c', 3, null, 'bandwidth')], run('bandwidth'));
    recordSuite(dir, 'contractions', [e('a', 10, null, 'contractions', undefined, 'GPU')], run('contractions', { adapter: 'GPU' }));
    // The same adapter again, cut short by a failure: its earlier figures give way to what it recorded.
    recordSuite(dir, 'contractions', [e('a', 5, null, 'contractions')], run('contractions', { failed: 'boom' }));
    const entries = read<Entry[]>('results.json');
    expect(entries.map((x) => [x.name, x.value, x.adapter])).toEqual([['c', 3, 'test adapter'], ['a', 10, 'GPU'], ['a', 5, 'test adapter']]);
    expect(read<RunInfo[]>('runs.json').map((r) => [r.suite, r.adapter, r.failed])).toEqual([['bandwidth', 'test adapter', undefined], ['contractions', 'GPU', undefined], ['contractions', 'test adapter', 'boom']]);
    expect(readFileSync(join(dir, 'RESULTS.md'), 'utf8')).toContain('| target | test adapter | GPU |');
  });
});
