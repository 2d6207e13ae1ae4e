/**
 * gather (rows of a table picked by i32 ids: an embedding lookup) on the device against the
 * reference interpreter: alone, inlined into a matmul's loads and into an elementwise chain,
 * over tables of several ranks, with f16 storage, and what an id outside the table does.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/reference/interpret.ts';
import { checkGraph, gpuHasF16, requireGpu, rng, runProgram } from '../support/gpu.ts';

const ids = (count: number, rows: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: count }, () => Math.floor(r() * rows));
};
const table = (count: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: count }, () => Math.fround(r() * 4 - 2));
};
const f16 = await gpuHasF16();

describe('gather on the GPU', () => {
  it('embeds [2, 5] token ids from a [37, 12] table, then projects and scales them', async () => {
    const b = new GraphBuilder();
    const emb = b.input('emb', [37, 12], 'f32', 'weight');
    const tok = b.input('ids', [2, 5], 'i32');
    const w = b.input('w', [2, 12, 7], 'f32', 'weight');
    const x = b.gather(emb, tok);
    const pos = b.input('pos', [1, 5, 12], 'f32', 'weight');
    const h = b.binary('add', x, b.expand(pos, [2, 5, 12]));
    const g = b.graph([{ name: 'y', node: b.matmul(h, w) }, { name: 'e', node: b.unary('tanh', x) }]);
    const values = { emb: table(37 * 12, 1), ids: ids(10, 37, 2), w: table(2 * 12 * 7, 3), pos: table(60, 4) };
    const p = await checkGraph(g, { values, rtol: 1e-5 });
    // The lookup is read inside the two kernels that need it: no kernel of its own.
    expect(p.kernels.map((k) => k.kind).sort()).toEqual(['contraction', 'elementwise']);
  });

  it('picks scalars from a 1-D table and blocks from a 3-D one, with repeated ids', async () => {
    const b = new GraphBuilder();
    const t1 = b.input('t1', [9], 'f32');
    const t3 = b.input('t3', [4, 3, 5], 'f32');
    const i1 = b.input('i1', [3, 4], 'i32');
    const i3 = b.input('i3', [6], 'i32');
    const g = b.graph([{ name: 's', node: b.gather(t1, i1) }, { name: 'blk', node: b.gather(t3, i3) }]);
    await checkGraph(g, { values: { t1: table(9, 5), t3: table(60, 6), i1: ids(12, 9, 7), i3: [3, 3, 0, 1, 3, 2] } });
  });

  it.skipIf(!f16)(`reads an f16-stored table${f16 ? '' : ' (skipped: the adapter has no shader-f16)'}`, async () => {
    const b = new GraphBuilder();
    const emb = b.input('emb', [50, 8], 'f32', 'weight');
    const tok = b.input('ids', [7], 'i32');
    const g = b.graph([{ name: 'y', node: b.binary('mul', b.gather(emb, tok), b.const(3, [7, 8])) }]);
    const half = table(400, 8).map((v) => Math.round(v * 64) / 64);
    await checkGraph(g, { values: { emb: half, ids: ids(7, 50, 9) }, storage: 'f16', rtol: 1e-3 });
  });

  it('an id outside the table: the interpreter throws, as PyTorch does; a kernel reads the nearest row, never outside the buffer', async () => {
    const b = new GraphBuilder();
    const emb = b.input('emb', [4, 3], 'f32');
    const tok = b.input('ids', [3], 'i32');
    const g = b.graph([{ name: 'y', node: b.unary('neg', b.gather(emb, tok)) }]);
    const values = { emb: Array.from({ length: 12 }, (_, i) => i), ids: [7, -2, 1] };
    expect(() => interpret(g, values)).toThrow(/gather index 7 \(position 0 of the ids\) is outside the table's 4 rows/);
    const d = await requireGpu();
    const y = (await runProgram(compile(g, d.target), values)).get('y')!;
    expect([...y]).toEqual([-9, -10, -11, -0, -1, -2, -3, -4, -5]);
  });
});
