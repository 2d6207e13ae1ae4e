/**
 * Where the ranks of a sequence-parallel transformer meet to swap tensors (sequence_parallel.ts).
 * A round has two steps, so that a rank can write what it shares straight where the others will
 * read it (a read-back from its device, no copy in between): `claim` gives the rank its slots
 * once every rank is done with the last round, `publish` waits until every rank has filled its
 * slots and gives all of them. Every rank shares the same names and shapes in a round.
 */
import type { HostTensor, StorageDType } from '../../runtime/tensor.ts';

export interface TensorLayout {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
}

export type Shared = ReadonlyArray<Readonly<Record<string, HostTensor>>>;

export interface Rendezvous {
  /** Slots of `layout` for this rank's tensors of the round, to fill before publish(). */
  claim(rank: number, layout: Readonly<Record<string, TensorLayout>>): Promise<Record<string, HostTensor>>;
  /** Every rank's tensors of the round, in rank order; valid until this rank claims again. */
  publish(rank: number): Promise<Shared>;
}

const ARRAYS: Partial<Record<StorageDType, new (n: number) => HostTensor['data']>> = { F64: Float64Array, F32: Float32Array, F16: Uint16Array, I32: Int32Array };

/** The typed-array kind that holds `dtype`. */
export function arrayKind(dtype: StorageDType): new (...args: never[]) => HostTensor['data'] {
  const kind = ARRAYS[dtype];
  if (!kind) throw new Error(`internal: ${dtype} tensors are not exchanged`);
  return kind as new (...args: never[]) => HostTensor['data'];
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Claim, copy `tensors` into the slots, publish. */
export async function share(rendezvous: Rendezvous, rank: number, tensors: Readonly<Record<string, HostTensor>>): Promise<Shared> {
  const slots = await rendezvous.claim(rank, Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }])));
  for (const [n, t] of Object.entries(tensors)) (slots[n].data as Float32Array).set(t.data as Float32Array);
  return rendezvous.publish(rank);
}

/** Ranks in one thread: slots are fresh arrays; publish() resolves when the round's last rank publishes. */
export class InProcessRendezvous implements Rendezvous {
  private round: Array<Record<string, HostTensor>> = [];
  private published = 0;
  private waiting: Array<{ resolve: (all: Shared) => void; reject: (err: unknown) => void }> = [];
  private failure: unknown;

  constructor(readonly ranks: number) {}

  async claim(rank: number, layout: Readonly<Record<string, TensorLayout>>): Promise<Record<string, HostTensor>> {
    if (this.failure !== undefined) throw this.failure;
    const Kind = (dtype: StorageDType) => arrayKind(dtype) as unknown as new (n: number) => HostTensor['data'];
    const slots = Object.fromEntries(Object.entries(layout).map(([n, l]) => [n, { dtype: l.dtype, shape: l.shape, data: new (Kind(l.dtype))(sizeOf(l.shape)) }]));
    this.round[rank] = slots;
    return slots;
  }

  publish(rank: number): Promise<Shared> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.round[rank]) throw new Error(`internal: rank ${rank} published without claiming`);
    const done = new Promise<Shared>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (++this.published === this.ranks) {
      const all = this.round;
      const waiting = this.waiting;
      this.round = [];
      this.waiting = [];
      this.published = 0;
      for (const w of waiting) w.resolve(all);
    }
    return done;
  }

  /** A rank failed: the others, waiting or yet to come, fail with it rather than wait forever. */
  abort(err: unknown): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}
