/**
 * Golden adapters for the transformer's cases: HYVideoDiffusionTransformer (constructor kwargs
 * to a DitConfig, forward with its keyword inputs) and `get_nd_rotary_pos_embed` (a function, so
 * the case has no constructor: each call's kwargs become ndRotaryPosEmbed's options).
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { callInputs, returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { meshgridAxes, ndRotaryPosEmbed, type RopeOptions } from './rope.ts';
import { HunyuanDit, type DitConfig } from './transformer.ts';

const ROPE_KWARGS = new Set(['rope_dim_list', 'start', 'theta', 'use_real', 'theta_rescale_factor', 'interpolation_factor']);

const isNumbers = (v: unknown): v is number | number[] => typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number'));

function ropeOptions(c: GoldenCase, call: GoldenCall): RopeOptions {
  const k = call.kwargs ?? {};
  const unknown = Object.keys(k).filter((key) => !ROPE_KWARGS.has(key));
  if (unknown.length) throw new UnsupportedGoldenError(`${c.path}: get_nd_rotary_pos_embed has no keyword ${unknown.join(', ')}`);
  // use_real=False returns complex64 tables; Kiln, like the transformer's I2V path, uses the real pair.
  if (k.use_real !== true) throw new UnsupportedGoldenError(`${c.path}: get_nd_rotary_pos_embed with use_real=${JSON.stringify(k.use_real ?? false)} returns complex tables; Kiln makes the real (cos, sin) pair only`);
  const dims = k.rope_dim_list;
  if (!Array.isArray(dims) || !dims.every((d) => typeof d === 'number')) throw new UnsupportedGoldenError(`${c.path}: rope_dim_list ${JSON.stringify(dims)} is not a list of numbers`);
  // Upstream's *args after `start` (stop, or stop and num) arrive as the call's positional values.
  const rest = (call.args ?? []) as readonly unknown[];
  if (!isNumbers(k.start) || rest.length > 2 || !rest.every(isNumbers)) {
    throw new UnsupportedGoldenError(`${c.path}: the grid (start ${JSON.stringify(k.start)}, args ${JSON.stringify(rest)}) is not numbers per axis`);
  }
  const perAxis = (key: string): number | number[] | undefined => {
    const v = k[key];
    if (v === undefined) return undefined;
    if (!isNumbers(v)) throw new UnsupportedGoldenError(`${c.path}: ${key} ${JSON.stringify(v)} is not a number or a list of numbers`);
    return v;
  };
  const theta = k.theta ?? 10000;
  if (typeof theta !== 'number') throw new UnsupportedGoldenError(`${c.path}: theta ${JSON.stringify(theta)} is not a number`);
  return {
    ropeDimList: dims as number[],
    grid: meshgridAxes(dims.length, k.start, rest[0] as number | number[] | undefined, rest[1] as number | number[] | undefined),
    theta,
    thetaRescaleFactor: perAxis('theta_rescale_factor'),
    interpolationFactor: perAxis('interpolation_factor'),
  };
}

const ropeAdapter: GoldenAdapter = {
  classNames: ['get_nd_rotary_pos_embed'],
  async run(c, ctx) {
    const out = new Map();
    for (const call of c.calls) {
      if (call.function !== 'get_nd_rotary_pos_embed') throw new UnsupportedGoldenError(`${c.path}: the call ${JSON.stringify(call.function ?? call.method)} is not get_nd_rotary_pos_embed`);
      const { names } = returnedOutputs(call);
      if (names.length !== 2) throw new UnsupportedGoldenError(`${c.path}: get_nd_rotary_pos_embed returns "${call.returns}"; expected the cos and the sin tables`);
      const { cos, sin } = ndRotaryPosEmbed(ropeOptions(c, call));
      out.set(names[0], cos);
      out.set(names[1], sin);
      ctx.log(`get_nd_rotary_pos_embed → [${cos.shape.join(', ')}] × 2`);
    }
    return out;
  },
};

type Kwargs = Readonly<Record<string, unknown>>;

function refuse(c: GoldenCase, what: string): never {
  throw new UnsupportedGoldenError(`${c.path}: HYVideoDiffusionTransformer with ${what} is not supported`);
}

/** Upstream's constructor kwargs (the case's, or `k`; upstream's defaults for those left out) as the Kiln module's config. */
export function ditConfigFrom(c: GoldenCase, k: Kwargs = c.constructorConfig): DitConfig {
  const args = (k.args ?? {}) as Kwargs;
  const num = (v: unknown, name: string, fallback?: number): number => {
    const x = v ?? fallback;
    if (typeof x !== 'number') refuse(c, `${name} ${JSON.stringify(v)} (a number is needed)`);
    return x;
  };
  const hidden = num(k.hidden_size, 'hidden_size', 3072);
  const heads = num(k.heads_num, 'heads_num', 24);
  if (hidden % heads !== 0) refuse(c, `hidden_size ${hidden} not divisible by heads_num ${heads}`);
  const rope = (k.rope_dim_list ?? [16, 56, 56]) as number[];
  if (rope.reduce((a, b) => a + b, 0) !== hidden / heads) refuse(c, `rope_dim_list ${JSON.stringify(rope)} not summing to the head dimension ${hidden / heads} (upstream raises)`);
  if ((k.mlp_act_type ?? 'gelu_tanh') !== 'gelu_tanh') refuse(c, `mlp_act_type ${JSON.stringify(k.mlp_act_type)}`);
  if ((k.qk_norm_type ?? 'rms') !== 'rms' && k.qk_norm !== false) refuse(c, `qk_norm_type ${JSON.stringify(k.qk_norm_type)}`);
  if ((k.text_projection ?? 'single_refiner') !== 'single_refiner') refuse(c, `text_projection ${JSON.stringify(k.text_projection)}`);
  if (k.use_attention_mask === false) refuse(c, 'use_attention_mask=False');
  const condition = args.i2v_condition_type;
  if (condition !== undefined && condition !== null && condition !== 'token_replace' && condition !== 'latent_concat') refuse(c, `i2v_condition_type ${JSON.stringify(condition)}`);
  const patch = k.patch_size ?? [1, 2, 2];
  const patchSize = (typeof patch === 'number' ? [patch, patch, patch] : patch) as number[];
  if (patchSize.length !== 3) refuse(c, `patch_size ${JSON.stringify(patch)}`);
  const inChannels = num(k.in_channels, 'in_channels', 4);
  return {
    in_channels: inChannels,
    out_channels: k.out_channels === undefined || k.out_channels === null ? inChannels : num(k.out_channels, 'out_channels'),
    hidden_size: hidden,
    heads_num: heads,
    mm_double_blocks_depth: num(k.mm_double_blocks_depth, 'mm_double_blocks_depth', 20),
    mm_single_blocks_depth: num(k.mm_single_blocks_depth, 'mm_single_blocks_depth', 40),
    text_states_dim: num(args.text_states_dim, 'args.text_states_dim'),
    text_states_dim_2: num(args.text_states_dim_2, 'args.text_states_dim_2'),
    patch_size: [patchSize[0], patchSize[1], patchSize[2]],
    mlp_hidden: Math.trunc(hidden * num(k.mlp_width_ratio, 'mlp_width_ratio', 4)),
    guidance_embed: k.guidance_embed === true,
    token_replace: condition === 'token_replace',
    qkv_bias: k.qkv_bias !== false,
    qk_norm: k.qk_norm !== false,
  };
}

const ditAdapter: GoldenAdapter = {
  classNames: ['HYVideoDiffusionTransformer'],
  async run(c, ctx) {
    const dit = new HunyuanDit(ditConfigFrom(c), c.weights(), ctx.session);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if ((call.method ?? 'forward') !== 'forward') throw new UnsupportedGoldenError(`${c.path}: HYVideoDiffusionTransformer.${call.method} is not supported (forward only)`);
      const positional = callInputs(c, call);
      const kw = (call.kwargs ?? {}) as Kwargs;
      const named = (key: string): HostTensor | undefined => {
        const v = kw[key];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'string' || !v.startsWith('input.')) throw new UnsupportedGoldenError(`${c.path}: forward's ${key} ${JSON.stringify(v)} is not an input tensor`);
        return c.tensor(v);
      };
      const arg = (i: number, key: string): HostTensor => {
        const t = positional[i] ?? named(key);
        if (!t) throw new UnsupportedGoldenError(`${c.path}: forward needs ${key}`);
        return t;
      };
      const y = await dit.forward({
        x: arg(0, 'x'), t: arg(1, 't'), textStates: arg(2, 'text_states'), textMask: arg(3, 'text_mask'), textStates2: arg(4, 'text_states_2'),
        freqsCos: arg(5, 'freqs_cos'), freqsSin: arg(6, 'freqs_sin'), guidance: positional[7] ?? named('guidance'),
      });
      const name = returnedOutputs(call).names[0];
      if (!name) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output forward returns from "${call.returns}"`);
      out.set(name, y);
      ctx.log(`forward → ${name} [${y.shape.join(', ')}]`);
    }
    return out;
  },
};

export const DIT_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [ditAdapter, ropeAdapter];
