/**
 * The transformer across several devices by sequence parallelism (Ulysses, as upstream's xDiT
 * runs it: `--ulysses-degree`): each device holds all the weights and the image tokens of a run of
 * patch rows; before each attention the devices swap tokens for heads, so that each attends over
 * every token with its share of the heads, and after it swap back.
 *
 * Every other operation of the network is per token (patch embedding, norms, modulation,
 * projections, MLPs, final layer) or on the text and the conditioning vectors, which every device
 * computes for itself. So a device's share is exactly what the one-device forward computes for
 * those tokens, given its RoPE rows and its token_replace prefix (its rows of latent frame 0 come
 * first in its (t, h, w) order). Attention is over all tokens, whatever their order, so the
 * exchanged sequence is the devices' shares one after another.
 *
 * The exchange goes through the host (WebGPU has no transfer between devices): a device's q, k and
 * v are read back, and each device is given its heads of every device's image tokens, with the
 * text from its own copy. Each phase's inputs and outputs cross the host; keeping the residual
 * stream on the device between phases is left to do.
 */
import { ModelSession, type CallInput, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import { concatAxis, reshapeHost, sliceAxis } from '../../runtime/tensor_axes.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { timestepSinusoid } from './timestep.ts';
import { ditProgram, type DitConfig, type DitInputs, type DitModel } from './transformer.ts';

/** Which patch rows (of th) each of `devices` devices takes: near-equal runs, the first ones one longer. */
export function patchRowShares(th: number, devices: number): Array<{ readonly start: number; readonly rows: number }> {
  if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`sequence parallelism needs a whole number of devices, not ${devices}`);
  if (th < devices) {
    throw new RangeError(`the latents have ${th} patch rows, fewer than the ${devices} devices: each device needs at least one row; use at most ${th} devices or a taller video`);
  }
  const base = Math.floor(th / devices);
  const extra = th % devices;
  const shares = [];
  let start = 0;
  for (let d = 0; d < devices; d++) {
    const rows = base + (d < extra ? 1 : 0);
    shares.push({ start, rows });
    start += rows;
  }
  return shares;
}

interface Share {
  readonly start: number;
  readonly rows: number;
  /** Image tokens of this share, tt · rows · tw. */
  readonly tokens: number;
  /** Where its tokens start in the exchanged sequence. */
  readonly offset: number;
}

/** q, k and v of one device's tokens (its image tokens, then the text): [B, L, heads, head_dim]. */
interface AttentionInputs {
  readonly q: HostTensor;
  readonly k: HostTensor;
  readonly v: HostTensor;
}

export class SequenceParallelDit implements DitModel {
  readonly sessions: readonly ModelSession[];

  /** One session per device (`sessions[i]` places device i); all over the same weights. */
  constructor(readonly config: DitConfig, weights: SessionWeights, sessions: readonly SessionOptions[]) {
    if (sessions.length < 1) throw new RangeError('sequence parallelism needs at least one device');
    if (config.heads_num % sessions.length !== 0) {
      const fits = Array.from({ length: config.heads_num }, (_, i) => i + 1).filter((n) => config.heads_num % n === 0);
      throw new RangeError(`${sessions.length} devices cannot share ${config.heads_num} attention heads evenly; use ${fits.join(', ')} devices`);
    }
    this.sessions = sessions.map((s) => new ModelSession(ditProgram(), 'HYVideoDiffusionTransformer', { ...config }, weights, s));
  }

  get devices(): number {
    return this.sessions.length;
  }

  /** The predicted velocity, [B, out_channels, T', H', W'], as HunyuanDit.forward computes it. */
  async forward(inputs: DitInputs): Promise<HostTensor> {
    const c = this.config;
    if (c.guidance_embed && !inputs.guidance) throw new Error('this transformer embeds guidance (guidance_embed): pass the guidance strength (scale · 1000) per sample');
    const [pt, ph, pw] = c.patch_size;
    const [, , T, H, W] = inputs.x.shape;
    const [tt, th, tw] = [Math.floor(T / pt), Math.floor(H / ph), Math.floor(W / pw)];
    const head = c.hidden_size / c.heads_num;
    const imageTokens = tt * th * tw;
    if (inputs.freqsCos.shape[0] !== imageTokens || inputs.freqsSin.shape[0] !== imageTokens) {
      throw new RangeError(`the RoPE tables have ${inputs.freqsCos.shape[0]} rows; the latents' patch grid ${tt} x ${th} x ${tw} has ${imageTokens} tokens`);
    }
    let offset = 0;
    const shares: Share[] = patchRowShares(th, this.devices).map(({ start, rows }) => {
      const s = { start, rows, tokens: tt * rows * tw, offset };
      offset += s.tokens;
      return s;
    });
    const t = toFloat64(inputs.t);
    const none = { value: null };
    const tFreq = timestepSinusoid(t);
    const guidanceFreq = c.guidance_embed ? timestepSinusoid(toFloat64(inputs.guidance!)) : none;
    const trFreq = c.token_replace ? timestepSinusoid(new Float64Array(t.length)) : none;
    const rope = (table: HostTensor, s: Share): HostTensor =>
      reshapeHost(sliceAxis(reshapeHost(table, [tt, th, tw, head]), 1, s.start, s.start + s.rows), [s.tokens, head]);
    const cos = shares.map((s) => rope(inputs.freqsCos, s));
    const sin = shares.map((s) => rope(inputs.freqsSin, s));
    const firstTokens = shares.map((s) => ({ value: c.token_replace ? s.rows * tw : 0 }));

    const each = <T>(f: (session: ModelSession, d: number) => Promise<T>): Promise<T[]> => Promise.all(this.sessions.map(f));
    const call = async (session: ModelSession, fn: string, args: readonly CallInput[]): Promise<Readonly<Record<string, HostTensor>>> =>
      (await session.call(fn, args)).outputs;

    const embedded = await each((s, d) => call(s, 'embed', [
      sliceAxis(inputs.x, 3, shares[d].start * ph, (shares[d].start + shares[d].rows) * ph),
      tFreq, inputs.textStates, inputs.textMask, inputs.textStates2, guidanceFreq, trFreq,
    ]));
    const vec = embedded.map((e) => e.vec);
    const trVec = embedded.map((e) => e.tr_vec);
    let img = embedded.map((e) => e.img);
    let txt = embedded.map((e) => e.txt);
    const textTokens = txt[0].shape[1];

    const attend = (qkv: ReadonlyArray<Readonly<Record<string, HostTensor>>>): Promise<HostTensor[]> =>
      attentionAcrossDevices(qkv.map(({ q, k, v }) => ({ q, k, v })), shares, textTokens, imageTokens, this.sessions, inputs.textMask);

    for (let n = 0; n < c.mm_double_blocks_depth; n++) {
      const qkv = await each((s, d) => call(s, 'double_attention_inputs', [{ value: n }, img[d], txt[d], vec[d], cos[d], sin[d], trVec[d], firstTokens[d]]));
      const o = await attend(qkv);
      const out = await each((s, d) => call(s, 'double_finish', [{ value: n }, img[d], txt[d], vec[d], o[d], trVec[d], firstTokens[d]]));
      img = out.map((r) => r.img);
      txt = out.map((r) => r.txt);
    }
    let joint = img.map((x, d) => concatAxis([x, txt[d]], 1));
    for (let n = 0; n < c.mm_single_blocks_depth; n++) {
      const qkv = await each((s, d) => call(s, 'single_attention_inputs', [{ value: n }, joint[d], vec[d], cos[d], sin[d], trVec[d], firstTokens[d]]));
      const o = await attend(qkv);
      joint = (await each((s, d) => call(s, 'single_finish', [{ value: n }, joint[d], vec[d], o[d], trVec[d], firstTokens[d]]))).map((r) => r.out);
    }
    const latents = await each((s, d) => call(s, 'unpatchify', [
      sliceAxis(joint[d], 1, 0, shares[d].tokens), vec[d], { value: tt }, { value: shares[d].rows }, { value: tw },
    ]));
    return concatAxis(latents.map((l) => l.out), 3);
  }
}

/**
 * Swaps tokens for heads, runs each device's share of the heads over every token, and swaps back:
 * device d's attention output for its own tokens (image, then text) with all heads merged.
 */
async function attentionAcrossDevices(parts: readonly AttentionInputs[], shares: readonly Share[], textTokens: number, imageTokens: number,
  sessions: readonly ModelSession[], textMask: HostTensor): Promise<HostTensor[]> {
  const devices = sessions.length;
  const heads = parts[0].q.shape[2];
  const group = heads / devices;
  // Device g's input: its heads of every device's image tokens in turn, then of its own text.
  const gathered = (which: keyof AttentionInputs, g: number): HostTensor => {
    const headsOf = (x: HostTensor): HostTensor => sliceAxis(x, 2, g * group, (g + 1) * group);
    const image = parts.map((p, d) => headsOf(sliceAxis(p[which], 1, 0, shares[d].tokens)));
    const own = parts[g][which];
    return concatAxis([...image, headsOf(sliceAxis(own, 1, shares[g].tokens, shares[g].tokens + textTokens))], 1);
  };
  const attended = await Promise.all(sessions.map(async (s, g) => (await s.call('joint_attention', [
    gathered('q', g), gathered('k', g), gathered('v', g), textMask, { value: imageTokens },
  ])).outputs.out));
  // Back: device d's tokens from every head group, the groups side by side in head order.
  return shares.map((share) => concatAxis(attended.map((o) => concatAxis([
    sliceAxis(o, 1, share.offset, share.offset + share.tokens), sliceAxis(o, 1, imageTokens, imageTokens + textTokens),
  ], 1)), 2));
}
