/**
 * The transformer across several devices by sequence parallelism (Ulysses, as upstream's xDiT
 * runs it with `--ulysses-degree`): each device holds all the weights, all the text, and the
 * image tokens of a share of the patch grid (SequenceSplit). Before each attention the devices
 * swap image tokens for heads, so that each attends over every token with its group of heads;
 * after it they swap back.
 *
 * Every other operation of the network is per token (patch embedding, norms, modulation,
 * projections, MLPs, final layer) or on the text and the conditioning vectors, which each device
 * computes for itself. So a device's share is exactly what the one-device forward computes for
 * those tokens, given its rows of the RoPE tables and its token_replace prefix (its part of
 * latent frame 0 comes first in its (t, h, w) order). Attention is over all tokens whatever their
 * order, so the exchanged sequence is the devices' shares one after another.
 *
 * WebGPU has no transfer between devices, so the swapped tensors go through the host: a device
 * reads back its q, k and v laid out by destination ([devices, ...]: each destination's part one
 * contiguous run, dit.kiln), and gets every source's part for its heads; the residual streams,
 * the text's q, k and v and the modulation vectors stay on the device between phases.
 *
 * A rank (rankForward) is one device's side. Ranks meet at a Rendezvous: in this thread
 * (InProcessRendezvous, for interpreter sessions and tests), or across worker threads, one per
 * GPU, so that the host's copies run in parallel (dit_workers.ts).
 */
import { ModelSession, releaseTensors, type SessionOptions, type SessionTensor, type SessionWeights } from '../../runtime/model.ts';
import { concatAxis, partOfHost, reshapeHost, sliceAxis } from '../../runtime/tensor_axes.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { InProcessRendezvous, type Rendezvous, type Shared } from './rendezvous.ts';
import { timestepSinusoid } from './timestep.ts';
import { ditProgram, type DitConfig, type DitInputs, type DitModel } from './transformer.ts';

/**
 * How the image tokens' patch grid (tt × th × tw) is shared: runs of whole rows, or of whole
 * columns. Shares are equal where the devices divide the rows (else the columns, upstream's
 * order); otherwise the first shares are one longer, and every share is padded to the longest
 * with tokens that no attention sees (a key mask), whose outputs are dropped — where upstream
 * asks for the image to be resized (ALLOW_RESIZE_FOR_SP).
 */
export interface SequenceSplit {
  readonly devices: number;
  readonly grid: readonly [number, number, number];
  readonly axis: 'rows' | 'columns';
  /** Patch rows (or columns) of each device's share. */
  readonly sizes: readonly number[];
  /** The longest share, to which all are padded. */
  readonly size: number;
  /** Image tokens per device, padding included. */
  readonly tokens: number;
}

/** Throws, saying what fits, unless `devices` can share `heads` attention heads evenly (any video size). */
export function checkHeadGroups(devices: number, heads: number): void {
  if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`sequence parallelism needs a whole number of devices, not ${devices}`);
  if (heads % devices !== 0) {
    const fits = Array.from({ length: heads }, (_, i) => i + 1).filter((n) => heads % n === 0);
    throw new RangeError(`${devices} devices cannot share ${heads} attention heads evenly; use ${fits.join(', ')} devices`);
  }
}

/** The split for a patch grid over `devices`, or an error that says what fits. */
export function planSequenceSplit(grid: readonly [number, number, number], devices: number, heads: number): SequenceSplit {
  checkHeadGroups(devices, heads);
  const [tt, th, tw] = grid;
  // Equal shares where possible; else the longer side, which pads the least.
  const axis = th % devices === 0 ? 'rows' : tw % devices === 0 ? 'columns' : th >= tw ? 'rows' : 'columns';
  const length = axis === 'rows' ? th : tw;
  if (length < devices) {
    throw new RangeError(`the latents' patch grid has ${th} rows and ${tw} columns, fewer than the ${devices} devices: each device needs at least one; use at most ${Math.max(th, tw)} devices or a larger video`);
  }
  const base = Math.floor(length / devices);
  const sizes = Array.from({ length: devices }, (_, d) => base + (d < length % devices ? 1 : 0));
  const size = sizes[0];
  return { devices, grid: [tt, th, tw], axis, sizes, size, tokens: tt * size * (axis === 'rows' ? tw : th) };
}

/** What every rank needs: the shared inputs and its own slices of the latents and the RoPE tables. */
export interface RankInputs {
  readonly x: HostTensor;
  readonly tFreq: HostTensor;
  readonly textStates: HostTensor;
  readonly textMask: HostTensor;
  readonly textStates2: HostTensor;
  readonly guidanceFreq?: HostTensor;
  readonly trFreq?: HostTensor;
  readonly cos: HostTensor;
  readonly sin: HostTensor;
  /** Which of the exchanged image tokens (every device's share in turn) are real: [B, devices · tokens]. */
  readonly imageKeep: HostTensor;
}

/** `t` with zeros after its end along `axis`, to `size` (itself when it has that size). */
function padAxis(t: HostTensor, axis: number, size: number): HostTensor {
  const have = t.shape[axis];
  if (have === size) return t;
  const shape = [...t.shape];
  shape[axis] = size - have;
  const zeros = { dtype: t.dtype, shape, data: new (t.data.constructor as new (n: number) => HostTensor['data'])(shape.reduce((a, b) => a * b, 1)) };
  return concatAxis([t, zeros], axis);
}

/** Where device d's share starts, in patch rows (or columns). */
const shareStart = (split: SequenceSplit, d: number): number => split.sizes.slice(0, d).reduce((a, b) => a + b, 0);

/** Rank `rank`'s inputs from the whole forward's (latents [B, C, T, H, W], tables [tokens, head_dim]). */
export function rankInputs(config: DitConfig, split: SequenceSplit, inputs: DitInputs, rank: number): RankInputs {
  const [tt, th, tw] = split.grid;
  const [, ph, pw] = config.patch_size;
  const head = config.hidden_size / config.heads_num;
  const start = shareStart(split, rank);
  const own = split.sizes[rank];
  const rows = split.axis === 'rows';
  const table = (t: HostTensor): HostTensor =>
    reshapeHost(padAxis(sliceAxis(reshapeHost(t, [tt, th, tw, head]), rows ? 1 : 2, start, start + own), rows ? 1 : 2, split.size), [split.tokens, head]);
  const patch = rows ? ph : pw;
  const t = toFloat64(inputs.t);
  const batch = inputs.x.shape[0];
  // Token (t, i, j) of device d's padded share is real when its row (or column) is within the share.
  const keep = new Uint8Array(batch * split.devices * split.tokens);
  const per = split.size;
  for (let b = 0, k = 0; b < batch; b++) {
    for (let d = 0; d < split.devices; d++) {
      for (let f = 0; f < tt; f++) {
        for (let i = 0; i < (rows ? per : th); i++) {
          for (let j = 0; j < (rows ? tw : per); j++) keep[k++] = (rows ? i : j) < split.sizes[d] ? 1 : 0;
        }
      }
    }
  }
  return {
    x: padAxis(sliceAxis(inputs.x, rows ? 3 : 4, start * patch, (start + own) * patch), rows ? 3 : 4, split.size * patch),
    tFreq: timestepSinusoid(t),
    textStates: inputs.textStates,
    textMask: inputs.textMask,
    textStates2: inputs.textStates2,
    guidanceFreq: config.guidance_embed ? timestepSinusoid(toFloat64(inputs.guidance!)) : undefined,
    trFreq: config.token_replace ? timestepSinusoid(new Float64Array(t.length)) : undefined,
    cos: table(inputs.freqsCos),
    sin: table(inputs.freqsSin),
    imageKeep: { dtype: 'BOOL', shape: [batch, split.devices * split.tokens], data: keep },
  };
}

/** The plan for a forward's inputs, after checking them. */
export function splitFor(config: DitConfig, devices: number, inputs: DitInputs): SequenceSplit {
  if (config.guidance_embed && !inputs.guidance) throw new Error('this transformer embeds guidance (guidance_embed): pass the guidance strength (scale · 1000) per sample');
  const [pt, ph, pw] = config.patch_size;
  const [, , T, H, W] = inputs.x.shape;
  const grid: [number, number, number] = [Math.floor(T / pt), Math.floor(H / ph), Math.floor(W / pw)];
  const tokens = grid[0] * grid[1] * grid[2];
  if (inputs.freqsCos.shape[0] !== tokens || inputs.freqsSin.shape[0] !== tokens) {
    throw new RangeError(`the RoPE tables have ${inputs.freqsCos.shape[0]} rows; the latents' patch grid ${grid.join(' x ')} has ${tokens} tokens`);
  }
  return planSequenceSplit(grid, devices, config.heads_num);
}

/** The whole output from the ranks' shares (their padding dropped), in rank order. */
export function joinShares(config: DitConfig, split: SequenceSplit, shares: readonly HostTensor[]): HostTensor {
  const axis = split.axis === 'rows' ? 3 : 4;
  const patch = config.patch_size[axis - 2];
  return concatAxis(shares.map((s, d) => sliceAxis(s, axis, 0, split.sizes[d] * patch)), axis);
}

/**
 * Under f16 storage the phases take and give f16 (ModelSession's half interface): what crosses
 * between devices is half the bytes, rounded as the one-device forward rounds the same tensors
 * between its kernels.
 */
const HALF = { inputs: true, outputs: true } as const;

/** The swapped tensors laid out by destination (the others every rank reads whole). */
const BY_DESTINATION: ReadonlySet<string> = new Set(['q', 'k', 'v']);
const O_BY_DESTINATION: ReadonlySet<string> = new Set(['o_img']);

/**
 * Claims slots for `tensors`, reads them from the session into the slots, and publishes. Tensors
 * laid out by destination (`byDestination`) leave this rank's own part unread: it takes that one
 * on its device.
 */
async function publishFrom(session: ModelSession, rendezvous: Rendezvous, rank: number, tensors: Readonly<Record<string, SessionTensor>>,
  byDestination: ReadonlySet<string>): Promise<Shared> {
  const layout = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, session.hostLayout(t)]));
  const slots = await rendezvous.claim(rank, layout);
  await Promise.all(Object.entries(tensors).map(([n, t]) => session.readInto(t, slots[n], byDestination.has(n) ? rank : undefined)));
  return rendezvous.publish(rank);
}

/** Every source's part for `rank` of a tensor laid out by destination, this rank's own from its device: [sources, ...]. */
const ownPartOnDevice = (shared: Shared, name: string, rank: number, own: SessionTensor) =>
  shared.map((s, source) => (source === rank ? { from: own, part: rank } : partOfHost(s[name], rank)));

/** Reads a session output that was asked for on the host. */
function host(t: SessionTensor): HostTensor {
  if (!('data' in t)) throw new Error('internal: a tensor expected on the host is on the device');
  return t;
}

/**
 * One rank's forward: its share of the image tokens through the whole network, meeting the
 * other ranks at `rendezvous` around each attention. Returns its share of the output latents.
 */
export async function rankForward(session: ModelSession, config: DitConfig, split: SequenceSplit, rank: number, inputs: RankInputs,
  rendezvous: Rendezvous): Promise<HostTensor> {
  const none = { value: null };
  const devices = { value: split.devices };
  const [tt, th, tw] = split.grid;
  const rows = split.axis === 'rows';
  const firstTokens = { value: config.token_replace ? split.size * (rows ? tw : th) : 0 };
  const held: SessionTensor[] = [];
  const hold = <T extends SessionTensor>(t: T): T => { held.push(t); return t; };
  // The streams between blocks: each block's replace the last's, and whatever is current when
  // something fails is released with the rest.
  let img: SessionTensor | undefined;
  let txt: SessionTensor | undefined;
  try {
    const e = await session.callOnDevice('embed', [
      inputs.x, inputs.tFreq, inputs.textStates, inputs.textMask, inputs.textStates2, inputs.guidanceFreq ?? none, inputs.trFreq ?? none,
    ], { half: HALF });
    const vec = hold(e.vec);
    const trVec = hold(e.tr_vec);
    img = e.img;
    txt = e.txt;
    const cos = hold(session.place(inputs.cos, 'freqs_cos', true));
    const sin = hold(session.place(inputs.sin, 'freqs_sin', true));
    const mask = hold(session.place(inputs.textMask, 'text_mask'));
    const imageKeep = hold(session.place(inputs.imageKeep, 'image_keep'));
    const blocks = [
      ...Array.from({ length: config.mm_double_blocks_depth }, (_, n) => ['double', n] as const),
      ...Array.from({ length: config.mm_single_blocks_depth }, (_, n) => ['single', n] as const),
    ];
    for (const [kind, n] of blocks) {
      const a = await session.callOnDevice(`${kind}_attention_inputs`, [{ value: n }, devices, img, txt, vec, cos, sin, trVec, firstTokens], { half: HALF });
      let o: Record<string, SessionTensor>;
      // What a rank shares is read back from its device straight into its slots; what it
      // receives goes to its device straight from the others' slots: its part of each source's
      // tensors laid out by destination (all-to-all), or each source's whole tensor (all-gather).
      let received: SessionTensor[] = [];
      try {
        const sent = await publishFrom(session, rendezvous, rank, { q: a.q, k: a.k, v: a.v }, BY_DESTINATION);
        for (const name of ['q', 'k', 'v'] as const) received.push(await session.placeStacked(ownPartOnDevice(sent, name, rank, a[name]), name));
        o = await session.callOnDevice('group_attention', [{ value: rank }, ...received, a.q_txt, a.k_txt, a.v_txt, imageKeep, mask], { half: HALF });
      } finally {
        releaseTensors([a.q, a.k, a.v, a.q_txt, a.k_txt, a.v_txt, ...received]);
      }
      received = [];
      let f: Record<string, SessionTensor>;
      try {
        const back = await publishFrom(session, rendezvous, rank, { o_img: o.o_img, o_txt: o.o_txt }, O_BY_DESTINATION);
        received.push(await session.placeStacked(ownPartOnDevice(back, 'o_img', rank, o.o_img), 'o_img'));
        received.push(await session.placeStacked(back.map((s, source) => (source === rank ? { from: o.o_txt } : s.o_txt)), 'o_txt'));
        f = await session.callOnDevice(`${kind}_finish`, [{ value: n }, img, txt, vec, ...received, trVec, firstTokens], { half: HALF });
      } finally {
        releaseTensors([o.o_img, o.o_txt, ...received]);
      }
      releaseTensors([img, txt]);
      img = f.img;
      txt = f.txt;
    }
    // The velocity comes back in f32, as the one-device forward gives it.
    const out = await session.callOnDevice('unpatchify', [img, vec, { value: tt }, { value: rows ? split.size : th }, { value: rows ? tw : split.size }], {
      read: ['out'], half: { inputs: true },
    });
    return host(out.out);
  } finally {
    releaseTensors([...held, img, txt]);
  }
}

/** Sequence parallelism in this thread: one session per device (or interpreter sessions, for checking). */
export class SequenceParallelDit implements DitModel {
  readonly sessions: readonly ModelSession[];

  constructor(readonly config: DitConfig, weights: SessionWeights, sessions: readonly SessionOptions[]) {
    checkHeadGroups(sessions.length, config.heads_num);
    this.sessions = sessions.map((s) => new ModelSession(ditProgram(), 'HYVideoDiffusionTransformer', { ...config }, weights, s));
  }

  /** The predicted velocity, [B, out_channels, T', H', W'], as HunyuanDit.forward computes it. */
  async forward(inputs: DitInputs): Promise<HostTensor> {
    const split = splitFor(this.config, this.sessions.length, inputs);
    const rendezvous = new InProcessRendezvous(this.sessions.length);
    const shares = await Promise.all(this.sessions.map((session, rank) =>
      rankForward(session, this.config, split, rank, rankInputs(this.config, split, inputs, rank), rendezvous).catch((err: unknown) => {
        rendezvous.abort(err);
        throw err;
      })));
    return joinShares(this.config, split, shares);
  }
}
