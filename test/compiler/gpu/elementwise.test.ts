/**
 * Every elementwise primitive on the device against the reference interpreter, over random
 * shapes (odd sizes) and values, with poisoned output buffers.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { BinaryFn, DType, Node, UnaryFn } from '../../../compiler/ir.ts';
import { GPU_RUNS, seed, shape } from '../support/arbitraries.ts';
import { checkGraph, gpuHasF16 } from '../support/gpu.ts';

const FLOAT_UNARY: readonly UnaryFn[] = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'recip', 'sin', 'cos', 'tanh', 'floor', 'ceil'];
const POSITIVE_ONLY = new Set<UnaryFn>(['log', 'sqrt', 'rsqrt']);
const FLOAT_BINARY: readonly BinaryFn[] = ['add', 'sub', 'mul', 'div', 'max', 'min', 'mod', 'lt', 'le', 'gt', 'ge', 'eq', 'ne'];
const INT_BINARY: readonly BinaryFn[] = ['add', 'sub', 'mul', 'div', 'mod', 'max', 'min', 'lt', 'le', 'gt', 'ge', 'eq', 'ne'];
const DTYPES: readonly DType[] = ['f32', 'i32', 'bool'];
const f16 = await gpuHasF16();
const withF16 = (name: string): string => (f16 ? name : `${name} (f16 skipped: the adapter has no shader-f16)`);

describe('elementwise primitives on the GPU', () => {
  it('float unary functions', async () => {
    await fc.assert(fc.asyncProperty(shape(), seed, async (s, sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const outputs = FLOAT_UNARY.map((fn) => ({ name: fn, node: b.unary(fn, POSITIVE_ONLY.has(fn) ? b.unary('abs', x) : x) }));
      await checkGraph(b.graph(outputs), { seed: sd, rtol: 3e-6, atol: 1e-6 });
    }), GPU_RUNS);
  });

  it('float binary functions, comparisons and pow', async () => {
    await fc.assert(fc.asyncProperty(shape(), seed, async (s, sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const y = b.input('y', s, 'f32');
      const outputs: { name: string; node: Node }[] = FLOAT_BINARY.map((fn) => ({ name: fn, node: b.binary(fn, x, y) }));
      outputs.push({ name: 'eq_self', node: b.binary('eq', x, b.unary('neg', b.unary('neg', x))) });
      outputs.push({ name: 'pow_abs', node: b.binary('pow', b.unary('abs', x), y) });
      for (const e of [2, 3, 0.5, -1, -0.5, 4]) outputs.push({ name: `pow_${e}`, node: b.binary('pow', x, b.const(e, s)) });
      await checkGraph(b.graph(outputs), { seed: sd, rtol: 1e-5, atol: 1e-6 });
    }), GPU_RUNS);
  });

  it('i32 arithmetic with floor division and modulo (including by zero)', async () => {
    await fc.assert(fc.asyncProperty(shape(), seed, async (s, sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'i32');
      const y = b.input('y', s, 'i32');
      const outputs: { name: string; node: Node }[] = INT_BINARY.map((fn) => ({ name: fn, node: b.binary(fn, x, y) }));
      outputs.push({ name: 'neg', node: b.unary('neg', x) }, { name: 'abs', node: b.unary('abs', x) });
      await checkGraph(b.graph(outputs), { seed: sd, rtol: 0, atol: 0 });
    }), GPU_RUNS);
  });

  it('logic, not and where', async () => {
    await fc.assert(fc.asyncProperty(shape(), seed, async (s, sd) => {
      const b = new GraphBuilder();
      const p = b.input('p', s, 'bool');
      const q = b.input('q', s, 'bool');
      const x = b.input('x', s, 'f32');
      const i = b.input('i', s, 'i32');
      const g = b.graph([
        { name: 'and', node: b.binary('and', p, q) },
        { name: 'or', node: b.binary('or', p, q) },
        { name: 'not', node: b.unary('not', p) },
        { name: 'where_f32', node: b.where(p, x, b.unary('neg', x)) },
        { name: 'where_i32', node: b.where(q, i, b.const(7, s, 'i32')) },
        { name: 'where_bool', node: b.where(p, q, b.unary('not', q)) },
      ]);
      await checkGraph(g, { seed: sd, rtol: 0, atol: 0 });
    }), GPU_RUNS);
  });

  it(withF16('several vec4 groups per thread (CPU adapters): per-channel operands, guards, f16 storage'), async () => {
    // Last axes 48 and 40 with 1920-7680 elements give 1, 2 and 4 groups per thread on a CPU
    // adapter (tile.ts), and a tail of threads past the end; the per-channel operand's index
    // is shared by a thread's groups only where they lie in one channel.
    for (const s of [[32, 5, 48], [16, 5, 48], [8, 5, 48], [4, 12, 40], [3, 7, 64]]) {
      for (const storage of f16 ? (['f32', 'f16'] as const) : (['f32'] as const)) {
        const b = new GraphBuilder();
        const x = b.input('x', s, 'f32');
        const scale = b.expand(b.reshape(b.input('scale', [s[0]], 'f32', 'weight'), [s[0], 1, 1]), s);
        const y = b.binary('mul', b.unary('exp', b.unary('neg', x)), scale);
        await checkGraph(b.graph([{ name: 'y', node: y }]), { seed: s[0], storage, rtol: storage === 'f16' ? 2e-3 : 2e-6 });
      }
    }
  });

  it(withF16('casts between every pair of dtypes'), async () => {
    await fc.assert(fc.asyncProperty(shape(1, 3, 512), seed, async (s, sd) => {
      const b = new GraphBuilder();
      const src: Record<string, Node> = {
        // Scaled so that float -> i32 truncation and -> bool (x != 0) see fractions and zeros.
        f32: b.binary('mul', b.input('x', s, 'f32'), b.const(3.7, s)),
        i32: b.input('i', s, 'i32'),
        bool: b.input('p', s, 'bool'),
      };
      const outputs = [];
      for (const from of DTYPES) for (const to of f16 ? [...DTYPES, 'f16' as const] : DTYPES) {
        if (from !== to) outputs.push({ name: `${from}_to_${to}`, node: b.cast(src[from], to) });
      }
      // The GPU computes the scaled value in f32 before rounding to f16 (two roundings): one f16 ulp.
      await checkGraph(b.graph(outputs), { seed: sd, rtol: 1e-6, atol: 0, tolerances: { f32_to_f16: { rtol: 2 ** -10 } } });
    }), GPU_RUNS);
  });
});
