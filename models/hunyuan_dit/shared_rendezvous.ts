/**
 * A Rendezvous (rendezvous.ts) for ranks in worker threads (dit_workers.ts): a rank's slots are
 * its own region of shared memory, and the others read them in place. A barrier made of Atomics
 * on a small control array separates the rounds: in claim (everyone has read the last round)
 * and in publish (everyone has written). Every rank shares tensors of the same names and shapes
 * in a round (the shares are equal), so a rank lays out the others' regions as its own.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { arrayKind, type Rendezvous, type Shared, type TensorLayout } from './rendezvous.ts';

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

const align8 = (n: number): number => Math.ceil(n / 8) * 8;
const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Where each tensor of a layout lies in a region, and the views of a region. */
function place(layout: Readonly<Record<string, TensorLayout>>, region: SharedArrayBuffer): Record<string, HostTensor> {
  let offset = 0;
  const out: Record<string, HostTensor> = {};
  for (const [name, l] of Object.entries(layout)) {
    const Kind = arrayKind(l.dtype) as unknown as new (b: SharedArrayBuffer, offset: number, length: number) => HostTensor['data'];
    const n = sizeOf(l.shape);
    const view = new Kind(region, offset, n);
    out[name] = { dtype: l.dtype, shape: l.shape, data: view };
    offset += align8(view.byteLength);
  }
  return out;
}

/** Bytes a round of this layout takes in a region. */
function regionBytes(layout: Readonly<Record<string, TensorLayout>>): number {
  return Object.values(layout).reduce((n, l) => n + align8(sizeOf(l.shape) * (arrayKind(l.dtype) as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT), 0);
}

export class SharedRendezvous implements Rendezvous {
  private readonly control: Int32Array;
  private layout: Readonly<Record<string, TensorLayout>> | undefined;

  /** `control`: CONTROL_BYTES shared by all ranks; `regions[r]`: rank r's. */
  constructor(control: SharedArrayBuffer, private readonly regions: readonly SharedArrayBuffer[]) {
    this.control = new Int32Array(control);
  }

  async claim(rank: number, layout: Readonly<Record<string, TensorLayout>>): Promise<Record<string, HostTensor>> {
    const own = this.regions[rank];
    const needed = regionBytes(layout);
    if (needed > own.byteLength) throw new Error(`internal: a round of ${needed} bytes does not fit the ${own.byteLength} bytes shared per device`);
    await this.barrier(); // every rank is done reading the last round
    this.layout = layout;
    return place(layout, own);
  }

  async publish(rank: number): Promise<Shared> {
    const layout = this.layout;
    if (!layout) throw new Error(`internal: rank ${rank} published without claiming`);
    this.layout = undefined;
    await this.barrier(); // every rank has written this round
    return this.regions.map((region) => place(layout, region));
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
