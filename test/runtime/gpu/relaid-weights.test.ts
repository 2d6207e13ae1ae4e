/**
 * Relaid weights (`KEY@permute(...)`, the compiler's channels-last convolution weights): the
 * weight store parses the name and permutes the host tensor once; checked against an
 * independent index computation, and on the GPU through a program compiled with
 * relayoutWeights: 'upload' whose weights come from a plain map.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/reference/interpret.ts';
import { parseRelaidKey, permuteHost } from '../../../runtime/gpu/weight-store.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../gpu-available.ts';

describe('relaid weight keys', () => {
  it('parse KEY@permute(p...) and refuse what is not a permutation', () => {
    expect(parseRelaidKey('decoder.conv_in.conv.weight@permute(1,2,3,4,0)')).toEqual({ key: 'decoder.conv_in.conv.weight', perm: [1, 2, 3, 4, 0] });
    expect(parseRelaidKey('decoder.conv_in.conv.weight')).toBeUndefined();
    expect(parseRelaidKey('w@permute(1,1,0)')).toBeUndefined();
  });

  it('permute a host tensor: out[i0, i1, i2] = in[j] with j[perm[k]] = i[k]', () => {
    const shape = [2, 3, 4];
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const perm = [1, 2, 0];
    const out = permuteHost({ dtype: 'F32', shape, data }, perm);
    expect(out.shape).toEqual([3, 4, 2]);
    for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) for (let c = 0; c < 2; c++) {
      // Output axis k is input axis perm[k]: (a, b, c) reads input (c, a, b).
      expect(out.data[(a * 4 + b) * 2 + c]).toBe(data[(c * 3 + a) * 4 + b]);
    }
  });
});

const device = await deviceOrUndefined();

describe.skipIf(!device)(device ? 'relaid weights on WebGPU' : `relaid weights on WebGPU — ${NO_ADAPTER}`, () => {
  afterAll(async () => {
    await releaseDevice();
  });
  it('a program with upload-relaid convolution weights reads them from the plain weight map', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 3, 2, 5, 6], 'f32');
    const w = b.input('conv.weight', [4, 3, 1, 3, 3], 'f32', 'weight');
    const g = b.graph([{ name: 'y', node: b.conv(b.pad(x, [[0, 0], [0, 0], [0, 0], [1, 1], [1, 1]], 'replicate'), w, [1, 1, 1]) }]);
    const p = compile(g, device!.target, { relayoutWeights: 'upload' });
    expect(p.weights.map((id) => p.tensors[id].name)).toEqual(['conv.weight@permute(1,2,3,4,0)']);
    expect(p.kernels.map((k) => k.kind)).toEqual(['contraction']);
    const xv = Float32Array.from({ length: 180 }, (_, i) => Math.sin(i));
    const wv = Float32Array.from({ length: 108 }, (_, i) => Math.cos(i));
    device!.setWeights(new Map([['conv.weight', { dtype: 'F32' as const, shape: [4, 3, 1, 3, 3], data: wv }]]));
    const r = await device!.run(p, { x: { dtype: 'F32', shape: [1, 3, 2, 5, 6], data: xv } }, { readback: 'all' });
    const got = r.outputs.y.data as Float32Array;
    r.release();
    const want = interpret(g, { x: xv, 'conv.weight': wv }).get('y')!;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5);
  });
});
