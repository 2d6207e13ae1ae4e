/**
 * Golden adapters for the VAE's upstream classes: each maps the upstream constructor kwargs to
 * the Kiln module's config (spec/vae.md names; options upstream never builds are rejected with
 * a clear error rather than silently ignored) and runs the recorded calls.
 */
import { ModelSession, type SessionWeights } from '../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { callInputs, returnedOutputs, UnsupportedGoldenError, type GoldenAdapter, type GoldenContext } from '../golden/adapter.ts';
import { GoldenFormatError, type GoldenCall, type GoldenCase } from '../golden/case.ts';
import { HunyuanVae, vaeConfigFrom, vaeProgram, type VaeConfig } from './autoencoder.ts';
import type { TilingConfig, TilingFlags } from './tiling.ts';

type Kwargs = Readonly<Record<string, unknown>>;

const triple = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : [v as number, v as number, v as number]);

function requireSupported(c: GoldenCase, cond: boolean, what: string): void {
  if (!cond) throw new UnsupportedGoldenError(`${c.path}: ${c.className} with ${what} is not supported (upstream's HunyuanVideo VAE never builds it)`);
}

/** A kwarg left out or None (JSON null), or one of the values `ok`. */
const isNoneOr = (v: unknown, ...ok: readonly unknown[]): boolean => v === undefined || v === null || ok.includes(v);
const allOnes = (v: unknown): boolean => triple(v ?? 1).every((d) => d === 1);

/**
 * CausalConv3d passes any further kwargs to nn.Conv3d; those Kiln's convolution has no
 * counterpart for (extra zero padding, grouped convolutions, no bias) must not be dropped.
 */
const CONV3D_NEUTRAL: Readonly<Record<string, (v: unknown) => boolean>> = {
  padding: (v) => v === undefined || v === 'valid' || (typeof v !== 'string' && triple(v).every((d) => d === 0)),
  groups: (v) => v === undefined || v === 1,
  bias: (v) => v === undefined || v === true,
  padding_mode: () => true, // only pads the zero-width padding above
};
const CAUSAL_CONV_KWARGS = new Set(['chan_in', 'chan_out', 'kernel_size', 'stride', 'dilation', 'pad_mode']);

/**
 * `w` with its keys renamed by `rename` (undefined drops a key): the module's weights as the
 * Kiln module names them. Upstream registers Downsample's conv a second time as Conv2d_0 when
 * name == "conv" (its default), so its state dict holds the same tensors under both prefixes;
 * Upsample with any other name keeps its conv as Conv2d_0 only.
 */
function renamedWeights(w: SessionWeights, rename: (key: string) => string | undefined): SessionWeights {
  const keys = [...w.keys()];
  const own = new Map<string, string>();
  for (const k of keys) {
    const r = rename(k);
    if (r !== undefined) own.set(r, k);
  }
  return {
    path: w.path,
    keys: () => own.keys(),
    info: (k) => w.info(own.get(k) ?? k),
    read: (k) => w.read(own.get(k) ?? k),
  };
}

interface BlockSpec {
  readonly className: string;
  readonly module: string;
  config(k: Kwargs, c: GoldenCase): Record<string, unknown>;
  /** The case's weights under the Kiln module's names (default: as stored). */
  weights?(k: Kwargs, w: SessionWeights): SessionWeights;
  /** Kiln function producing an auxiliary output named in a call's `aux` text. */
  readonly aux?: Readonly<Record<string, string>>;
}

/** Checks common to the up- and downsampler: a conv, with bias, and no norm. */
function resamplerChecks(c: GoldenCase, k: Kwargs): void {
  requireSupported(c, k.use_conv === true, 'use_conv=False (upstream\'s default)');
  requireSupported(c, isNoneOr(k.norm_type), `norm_type ${String(k.norm_type)}`);
  requireSupported(c, k.bias === undefined || k.bias === true, 'bias=False');
}

const BLOCKS: readonly BlockSpec[] = [
  {
    className: 'CausalConv3d', module: 'CausalConv3d',
    config: (k, c) => {
      requireSupported(c, typeof k.kernel_size === 'number', `kernel_size ${JSON.stringify(k.kernel_size)} (upstream pads with kernel_size // 2, so only an int works)`);
      requireSupported(c, allOnes(k.dilation), 'dilation != 1');
      requireSupported(c, (k.pad_mode ?? 'replicate') === 'replicate', `pad_mode ${String(k.pad_mode)}`);
      for (const [key, v] of Object.entries(k)) {
        if (CAUSAL_CONV_KWARGS.has(key)) continue;
        const neutral = CONV3D_NEUTRAL[key];
        requireSupported(c, neutral !== undefined && neutral(v), `the nn.Conv3d kwarg ${key}=${JSON.stringify(v)}`);
      }
      return { chan_in: k.chan_in, chan_out: k.chan_out, kernel_size: k.kernel_size, stride: triple(k.stride ?? 1) };
    },
  },
  {
    className: 'DownsampleCausal3D', module: 'DownsampleCausal3D',
    config: (k, c) => {
      resamplerChecks(c, k);
      return { channels: k.channels, out_channels: k.out_channels ?? k.channels, stride: triple(k.stride ?? 2), kernel_size: k.kernel_size ?? 3 };
    },
    weights: (k, w) => ((k.name ?? 'conv') === 'conv' ? renamedWeights(w, (key) => (key.startsWith('Conv2d_0.') ? undefined : key)) : w),
  },
  {
    className: 'UpsampleCausal3D', module: 'UpsampleCausal3D',
    config: (k, c) => {
      resamplerChecks(c, k);
      requireSupported(c, !k.use_conv_transpose, 'use_conv_transpose');
      requireSupported(c, k.interpolate === undefined || k.interpolate === true, 'interpolate=False');
      return { channels: k.channels, out_channels: k.out_channels ?? k.channels, upsample_factor: triple(k.upsample_factor ?? [2, 2, 2]), kernel_size: k.kernel_size ?? 3 };
    },
    weights: (k, w) => ((k.name ?? 'conv') === 'conv' ? w : renamedWeights(w, (key) => key.replace(/^Conv2d_0\./, 'conv.'))),
  },
  {
    className: 'ResnetBlockCausal3D', module: 'ResnetBlockCausal3D',
    config: (k, c) => {
      // pre_norm, conv_shortcut, dropout (inference), skip_time_act and kernel have no effect
      // upstream without a time embedding; time_embedding_norm only matters with one.
      requireSupported(c, isNoneOr(k.temb_channels), 'temb_channels');
      requireSupported(c, ['default', 'scale_shift', undefined].includes(k.time_embedding_norm as string | undefined), `time_embedding_norm ${String(k.time_embedding_norm)}`);
      requireSupported(c, ['swish', 'silu', undefined].includes(k.non_linearity as string | undefined), `non_linearity ${String(k.non_linearity)}`);
      requireSupported(c, !k.up && !k.down, 'up/down resampling');
      requireSupported(c, k.conv_shortcut_bias !== false, 'conv_shortcut_bias=False');
      const out = k.out_channels ?? k.in_channels;
      requireSupported(c, isNoneOr(k.conv_3d_out_channels, out), `conv_3d_out_channels ${String(k.conv_3d_out_channels)} (other than out_channels)`);
      const groups = k.groups ?? 32;
      return {
        in_channels: k.in_channels, out_channels: out, groups, groups_out: k.groups_out ?? groups, eps: k.eps ?? 1e-6,
        output_scale_factor: k.output_scale_factor ?? 1.0,
        use_in_shortcut: k.use_in_shortcut ?? k.in_channels !== out,
      };
    },
  },
  {
    className: 'UNetMidBlockCausal3D', module: 'UNetMidBlockCausal3D',
    config: (k, c) => {
      requireSupported(c, isNoneOr(k.temb_channels), 'temb_channels');
      requireSupported(c, ['default', undefined].includes(k.resnet_time_scale_shift as string | undefined), `resnet_time_scale_shift ${String(k.resnet_time_scale_shift)}`);
      requireSupported(c, ['swish', 'silu', undefined].includes(k.resnet_act_fn as string | undefined), `resnet_act_fn ${String(k.resnet_act_fn)}`);
      const channels = k.in_channels as number;
      // Upstream's signature defaults (resnet_groups 32, attention_head_dim 1) apply to a kwarg
      // left out; an explicit None means min(C // 4, 32) groups and a single C-wide head.
      const resnetGroups = k.resnet_groups === undefined ? 32 : k.resnet_groups ?? Math.min(Math.floor(channels / 4), 32);
      return {
        in_channels: channels, resnet_eps: k.resnet_eps ?? 1e-6, resnet_groups: resnetGroups,
        attn_groups: k.attn_groups ?? resnetGroups,
        attention_head_dim: k.attention_head_dim === undefined ? 1 : k.attention_head_dim ?? channels,
        add_attention: k.add_attention ?? true,
        output_scale_factor: k.output_scale_factor ?? 1.0, num_layers: k.num_layers ?? 1,
      };
    },
    aux: { causal_attention_mask: 'attention_mask' },
  },
  {
    className: 'EncoderCausal3D', module: 'EncoderCausal3D',
    config: (k, c) => {
      const config = {
        in_channels: k.in_channels ?? 3, out_channels: k.out_channels ?? 3, block_out_channels: k.block_out_channels ?? [64],
        layers_per_block: k.layers_per_block ?? 2, norm_num_groups: k.norm_num_groups ?? 32, double_z: k.double_z ?? true,
        mid_block_add_attention: k.mid_block_add_attention ?? true, time_compression_ratio: k.time_compression_ratio ?? 4,
        spatial_compression_ratio: k.spatial_compression_ratio ?? 8,
      };
      checkLevels(c, k.down_block_types, 'DownEncoderBlockCausal3D', config);
      requireSupported(c, ['silu', 'swish', undefined].includes(k.act_fn as string | undefined), `act_fn ${String(k.act_fn)}`);
      return config;
    },
  },
  {
    className: 'DecoderCausal3D', module: 'DecoderCausal3D',
    config: (k, c) => {
      const config = {
        in_channels: k.in_channels ?? 3, out_channels: k.out_channels ?? 3, block_out_channels: k.block_out_channels ?? [64],
        layers_per_block: k.layers_per_block ?? 2, norm_num_groups: k.norm_num_groups ?? 32,
        mid_block_add_attention: k.mid_block_add_attention ?? true, time_compression_ratio: k.time_compression_ratio ?? 4,
        spatial_compression_ratio: k.spatial_compression_ratio ?? 8,
      };
      checkLevels(c, k.up_block_types, 'UpDecoderBlockCausal3D', config);
      requireSupported(c, ['silu', 'swish', undefined].includes(k.act_fn as string | undefined), `act_fn ${String(k.act_fn)}`);
      requireSupported(c, ['group', undefined].includes(k.norm_type as string | undefined), `norm_type ${String(k.norm_type)}`);
      return config;
    },
  },
];

/**
 * Upstream builds one level per entry of the block types (default: one) and decides which
 * levels resample from len(block_out_channels); Kiln has one level per channel count, so the
 * two must agree. Its block factory strips a "UNetRes" prefix. A spatial ratio that is not a
 * power of two is floored by upstream's int(log2(...)); Kiln takes powers of two only.
 */
function checkLevels(c: GoldenCase, types: unknown, expected: string, config: { block_out_channels: unknown; spatial_compression_ratio: unknown }): void {
  const list = types ?? [expected];
  requireSupported(c, Array.isArray(list) && list.every((t) => String(t).replace(/^UNetRes/, '') === expected), `block types ${JSON.stringify(types)}`);
  const levels = (config.block_out_channels as readonly number[]).length;
  requireSupported(c, (list as unknown[]).length === levels, `${(list as unknown[]).length} block types for ${levels} block_out_channels`);
  const ratio = config.spatial_compression_ratio as number;
  requireSupported(c, Number.isInteger(Math.log2(ratio)), `spatial_compression_ratio ${ratio} (not a power of two)`);
}

function blockAdapter(spec: BlockSpec): GoldenAdapter {
  return {
    classNames: [spec.className],
    async run(c, ctx) {
      const k = c.constructorConfig;
      const weights = spec.weights ? spec.weights(k, c.weights()) : c.weights();
      const session = new ModelSession(vaeProgram(), spec.module, spec.config(k, c), weights, ctx.session);
      const out = new Map<string, HostTensor>();
      for (const call of c.calls) {
        if ((call.method ?? 'forward') !== 'forward') throw new UnsupportedGoldenError(`${c.path}: ${c.className}.${call.method} is not supported (forward only)`);
        const { names } = returnedOutputs(call);
        const inputs = callInputs(c, call);
        const r = await session.call('forward', inputs);
        const main = names.find((n) => !spec.aux?.[n]) ?? names[0];
        out.set(main, r.outputs.out);
        for (const n of names) {
          const fn = spec.aux?.[n];
          if (fn) out.set(n, (await session.call(fn, inputs)).outputs.out);
        }
        ctx.log(`${c.className}.forward → ${names.join(', ')}`);
      }
      return out;
    },
  };
}

// ------------------------------------------------------------------ AutoencoderKLCausal3D

const POSTERIOR_FIELDS = ['parameters', 'mean', 'logvar', 'std', 'var', 'mode'] as const;

/**
 * The tiling flags after a call's `setup`: upstream's use_spatial_tiling / use_temporal_tiling
 * are module state, so a call without a setup keeps the previous call's. A setup is an object
 * of those flags, or the words "tiling enabled" / "tiling disabled" (enable_tiling()).
 */
function tilingSetup(c: GoldenCase, call: GoldenCall, previous: TilingFlags): TilingFlags {
  const s = call.setup;
  if (s === undefined || s === null) return previous;
  if (typeof s === 'string') {
    const m = /^tiling (enabled|disabled)$/.exec(s.trim());
    if (!m) throw new UnsupportedGoldenError(`${c.path}: a call's setup "${s}" is not understood (expected "tiling enabled", "tiling disabled" or an object of use_spatial_tiling / use_temporal_tiling)`);
    return { spatial: m[1] === 'enabled', temporal: m[1] === 'enabled' };
  }
  const o = s as Record<string, unknown>;
  const unknown = Object.keys(o).filter((key) => key !== 'use_spatial_tiling' && key !== 'use_temporal_tiling');
  if (unknown.length) throw new UnsupportedGoldenError(`${c.path}: a call's setup sets ${unknown.join(', ')}, which Kiln does not apply (it applies use_spatial_tiling and use_temporal_tiling; tile sizes come from the config or the tiling_thresholds metadata)`);
  return {
    spatial: typeof o.use_spatial_tiling === 'boolean' ? o.use_spatial_tiling : previous.spatial,
    temporal: typeof o.use_temporal_tiling === 'boolean' ? o.use_temporal_tiling : previous.temporal,
  };
}

/**
 * The tile sizes upstream used, from the case's `tiling_thresholds` metadata when it has them
 * (they are module attributes a case may have set after construction), else from the config.
 */
function tilingOf(c: GoldenCase, fromConfig: TilingConfig): TilingConfig {
  const text = c.metadata.tiling_thresholds;
  if (text === undefined) return fromConfig;
  let t: Record<string, unknown>;
  try {
    t = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new GoldenFormatError(`${c.path}: metadata 'tiling_thresholds' is not valid JSON`);
  }
  const num = (key: string, fallback: number): number => {
    const v = t[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedGoldenError(`${c.path}: tiling_thresholds.${key} is ${JSON.stringify(v)}, not a number`);
    return v;
  };
  return {
    sampleSize: num('tile_sample_min_size', fromConfig.sampleSize),
    latentSize: num('tile_latent_min_size', fromConfig.latentSize),
    sampleTSize: num('tile_sample_min_tsize', fromConfig.sampleTSize),
    latentTSize: num('tile_latent_min_tsize', fromConfig.latentTSize),
    overlap: num('tile_overlap_factor', fromConfig.overlap),
  };
}

/** The posterior outputs a call names: explicit names, `prefix*`, and siblings of the first name's prefix. */
function posteriorOutputs(c: GoldenCase, call: GoldenCall): Map<string, (typeof POSTERIOR_FIELDS)[number]> {
  const { names, prefixes } = returnedOutputs(call);
  const all = c.outputNames();
  const fieldOf = (name: string, prefix: string) => {
    const f = name.slice(prefix.length);
    return (POSTERIOR_FIELDS as readonly string[]).includes(f) ? (f as (typeof POSTERIOR_FIELDS)[number]) : undefined;
  };
  const out = new Map<string, (typeof POSTERIOR_FIELDS)[number]>();
  const usePrefix = (p: string) => { for (const n of all) { const f = n.startsWith(p) ? fieldOf(n, p) : undefined; if (f) out.set(n, f); } };
  for (const p of prefixes) usePrefix(p);
  for (const n of names) {
    const f = POSTERIOR_FIELDS.find((x) => n.endsWith(`_${x}`) || n === x);
    if (f) {
      out.set(n, f);
      usePrefix(n.slice(0, n.length - f.length));
    }
  }
  return out;
}

/** AutoencoderKLCausal3D's constructor kwargs (the case's, or `k`) as a VaeConfig, refusing what Kiln does not build. */
export function autoencoderConfigFrom(c: GoldenCase, k: Kwargs = c.constructorConfig): VaeConfig {
  requireSupported(c, typeof (k.sample_size ?? 32) === 'number', `sample_size ${JSON.stringify(k.sample_size)} (a list)`);
  const config = vaeConfigFrom(k);
  checkLevels(c, k.down_block_types, 'DownEncoderBlockCausal3D', config);
  checkLevels(c, k.up_block_types, 'UpDecoderBlockCausal3D', config);
  requireSupported(c, ['silu', 'swish', undefined].includes(k.act_fn as string | undefined), `act_fn ${String(k.act_fn)}`);
  return config;
}

const vaeAdapter: GoldenAdapter = {
  classNames: ['AutoencoderKLCausal3D'],
  async run(c: GoldenCase, ctx: GoldenContext) {
    const vae = new HunyuanVae(autoencoderConfigFrom(c), c.weights(), ctx.session);
    vae.tiling = tilingOf(c, vae.tiling);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      vae.flags = tilingSetup(c, call, vae.flags);
      const inputs = callInputs(c, call);
      let tiles = 0;
      vae.onTile = () => { tiles++; };
      const method = call.method ?? 'forward';
      if (method === 'encode') {
        const post = await vae.encode(inputs[0]);
        for (const [name, field] of posteriorOutputs(c, call)) {
          out.set(name, field === 'mode' ? post.mean : field === 'var' ? expTensor(post.logvar) : post[field]);
        }
      } else if (method === 'decode' || method === 'forward') {
        const kw = call.kwargs ?? {};
        if (method === 'forward' && kw.sample_posterior === true) throw new UnsupportedGoldenError(`${c.path}: forward(sample_posterior=True) needs upstream's RNG stream, which Kiln does not reproduce`);
        const y = method === 'decode' ? await vae.decode(inputs[0]) : await vae.forward(inputs[0]);
        const { names } = returnedOutputs(call);
        if (!names[0]) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output ${method} returns from "${call.returns}"`);
        out.set(names[0], y);
      } else {
        throw new UnsupportedGoldenError(`${c.path}: AutoencoderKLCausal3D.${method} is not supported (encode, decode, forward)`);
      }
      ctx.log(`${method} (${tiles} tile${tiles === 1 ? '' : 's'}${vae.flags.spatial || vae.flags.temporal ? `, tiling ${JSON.stringify(vae.flags)}` : ''})`);
    }
    return out;
  },
};

/** The posterior's variance exp(logvar), from its log-variance of any float storage. */
function expTensor(t: HostTensor): HostTensor {
  return { dtype: 'F64', shape: t.shape, data: toFloat64(t).map(Math.exp) };
}

export const VAE_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [...BLOCKS.map(blockAdapter), vaeAdapter];
