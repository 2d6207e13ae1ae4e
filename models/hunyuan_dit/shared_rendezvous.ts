/**
 * A Rendezvous for ranks in worker threads (dit_workers.ts): each rank writes what it shares into
 * its own region of shared memory, and the others read it in place. A barrier made of Atomics on
 * a small control array separates the rounds: one before writing (everyone has read the last
 * round), one after (everyone has written). Every rank shares tensors of the same names and
 * shapes in a round (the shares are equal), so a rank lays out the others' regions as its own.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import type { Rendezvous } from './sequence_parallel.ts';

const COUNT = 0;
const GENERATION = 1;
const ABORTED = 2;
export const CONTROL_BYTES = 3 * Int32Array.BYTES_PER_ELEMENT;

/** Atomics.waitAsync (Node 16+; typed in ES2024's lib, past this project's ES2023). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** Thrown in a rank when another rank failed (the main thread aborts the round). */
export class RendezvousAborted extends Error {
  constructor() {
    super('another device of the sequence-parallel group failed');
    this.name = 'RendezvousAborted';
  }
}

/** Typed-array views of `like`'s kind over shared memory. */
function view(like: HostTensor, buffer: SharedArrayBuffer, byteOffset: number): HostTensor {
  const Kind = like.data.constructor as unknown as new (b: SharedArrayBuffer, offset: number, length: number) => HostTensor['data'];
  return { dtype: like.dtype, shape: like.shape, data: new Kind(buffer, byteOffset, like.data.length) };
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Bytes a round of these tensors takes in a region. */
export function regionBytes(tensors: readonly HostTensor[]): number {
  return tensors.reduce((n, t) => n + align8(t.data.byteLength), 0);
}

export class SharedRendezvous implements Rendezvous {
  private readonly control: Int32Array;

  /** `control`: CONTROL_BYTES shared by all ranks; `regions[r]`: rank r's. */
  constructor(control: SharedArrayBuffer, private readonly regions: readonly SharedArrayBuffer[]) {
    this.control = new Int32Array(control);
  }

  async share(rank: number, tensors: Readonly<Record<string, HostTensor>>): Promise<ReadonlyArray<Readonly<Record<string, HostTensor>>>> {
    const names = Object.keys(tensors);
    const own = this.regions[rank];
    const needed = regionBytes(names.map((n) => tensors[n]));
    if (needed > own.byteLength) throw new Error(`internal: a round of ${needed} bytes does not fit the ${own.byteLength} bytes shared per device`);
    await this.barrier();
    let offset = 0;
    const offsets: number[] = [];
    for (const n of names) {
      const t = tensors[n];
      offsets.push(offset);
      (view(t, own, offset).data as Float32Array).set(t.data as Float32Array);
      offset += align8(t.data.byteLength);
    }
    await this.barrier();
    return this.regions.map((region) => Object.fromEntries(names.map((n, i) => [n, view(tensors[n], region, offsets[i])])));
  }

  /** Makes every rank waiting here, or arriving later, throw RendezvousAborted. */
  static abort(control: SharedArrayBuffer): void {
    const c = new Int32Array(control);
    Atomics.store(c, ABORTED, 1);
    Atomics.notify(c, GENERATION);
  }

  /** Ready for a new forward after an abort (no rank may be inside share()). */
  static reset(control: SharedArrayBuffer): void {
    const c = new Int32Array(control);
    Atomics.store(c, COUNT, 0);
    Atomics.store(c, ABORTED, 0);
  }

  private async barrier(): Promise<void> {
    const c = this.control;
    const ranks = this.regions.length;
    const generation = Atomics.load(c, GENERATION);
    if (Atomics.load(c, ABORTED)) throw new RendezvousAborted();
    if (Atomics.add(c, COUNT, 1) === ranks - 1) {
      // The last to arrive opens the barrier: the count is reset before the generation moves, so
      // a rank that runs ahead to the next barrier counts towards that one.
      Atomics.store(c, COUNT, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    // A pending waitAsync does not keep Node's event loop alive; a timer does, while we wait.
    const alive = setInterval(() => undefined, 2 ** 30);
    try {
      while (Atomics.load(c, GENERATION) === generation) {
        if (Atomics.load(c, ABORTED)) throw new RendezvousAborted();
        const wait = waitAsync(c, GENERATION, generation);
        if (wait.async) await wait.value;
      }
    } finally {
      clearInterval(alive);
    }
  }
}
