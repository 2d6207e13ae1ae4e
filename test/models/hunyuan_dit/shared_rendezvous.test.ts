/**
 * The shared-memory rendezvous of the worker-thread ranks (shared_rendezvous.ts), with its ranks
 * in this thread: rounds swap what each rank wrote, a later round may reuse the memory, and an
 * abort releases a rank that waits for one that will never come.
 */
import { describe, expect, it } from 'vitest';
import { share } from '../../../models/hunyuan_dit/rendezvous.ts';
import { CONTROL_BYTES, RendezvousAborted, SharedRendezvous } from '../../../models/hunyuan_dit/shared_rendezvous.ts';
import type { HostTensor } from '../../../runtime/tensor.ts';

const f32 = (...v: number[]): HostTensor => ({ dtype: 'F32', shape: [v.length], data: Float32Array.from(v) });
const values = (t: HostTensor): number[] => Array.from(t.data as Float32Array);

describe('SharedRendezvous', () => {
  it('gives every rank every rank\'s tensors, round after round in the same memory', async () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const regions = [0, 1, 2].map(() => new SharedArrayBuffer(64));
    const ranks = regions.map(() => new SharedRendezvous(control, regions));
    for (const round of [1, 2]) {
      const seen = await Promise.all(ranks.map((r, i) => share(r, i, { a: f32(round, i), b: f32(10 * i) })));
      for (const s of seen) {
        expect(s.map((t) => values(t.a))).toEqual([[round, 0], [round, 1], [round, 2]]);
        expect(s.map((t) => values(t.b))).toEqual([[0], [10], [20]]);
      }
    }
  });

  it('refuses a round larger than the memory shared per rank', async () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const rendezvous = new SharedRendezvous(control, [new SharedArrayBuffer(8)]);
    await expect(share(rendezvous, 0, { a: f32(1, 2, 3) })).rejects.toThrow(/does not fit the 8 bytes/);
  });

  it('releases waiting ranks with RendezvousAborted, and works again after a reset', async () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const regions = [new SharedArrayBuffer(16), new SharedArrayBuffer(16)];
    const waiting = share(new SharedRendezvous(control, regions), 0, { a: f32(1) });
    SharedRendezvous.abort(control);
    await expect(waiting).rejects.toBeInstanceOf(RendezvousAborted);
    await expect(share(new SharedRendezvous(control, regions), 1, { a: f32(2) })).rejects.toBeInstanceOf(RendezvousAborted);
    SharedRendezvous.reset(control);
    const both = await Promise.all([0, 1].map((i) => share(new SharedRendezvous(control, regions), i, { a: f32(i) })));
    expect(both[1].map((t) => values(t.a))).toEqual([[0], [1]]);
  });
});
