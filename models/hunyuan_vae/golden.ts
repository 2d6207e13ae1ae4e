/**
 * Golden adapters for the VAE's upstream classes: each maps the upstream constructor kwargs to
 * the Kiln module's config (spec/vae.md names; options upstream never builds are rejected with
 * a clear error rather than silently ignored) and runs the recorded calls.
 */
import { ModelSession } from '../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { callInputs, returnedOutputs, UnsupportedGoldenError, type GoldenAdapter, type GoldenContext } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { HunyuanVae, vaeConfigFrom, vaeProgram } from './autoencoder.ts';

type Kwargs = Readonly<Record<string, unknown>>;

const triple = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : [v as number, v as number, v as number]);

function requireSupported(c: GoldenCase, cond: boolean, what: string): void {
  if (!cond) throw new UnsupportedGoldenError(`${c.path}: ${c.className} with ${what} is not supported (upstream's HunyuanVideo VAE never builds it)`);
}

interface BlockSpec {
  readonly className: string;
  readonly module: string;
  config(k: Kwargs, c: GoldenCase): Record<string, unknown>;
  /** Kiln function producing an auxiliary output named in a call's `aux` text. */
  readonly aux?: Readonly<Record<string, string>>;
}

const BLOCKS: readonly BlockSpec[] = [
  {
    className: 'CausalConv3d', module: 'CausalConv3d',
    config: (k, c) => {
      requireSupported(c, (k.dilation ?? 1) === 1, 'dilation != 1');
      requireSupported(c, (k.pad_mode ?? 'replicate') === 'replicate', `pad_mode ${String(k.pad_mode)}`);
      return { chan_in: k.chan_in, chan_out: k.chan_out, kernel_size: k.kernel_size, stride: triple(k.stride ?? 1) };
    },
  },
  {
    className: 'DownsampleCausal3D', module: 'DownsampleCausal3D',
    config: (k, c) => {
      requireSupported(c, k.use_conv !== false, 'use_conv=False');
      requireSupported(c, k.norm_type === undefined || k.norm_type === null, `norm_type ${String(k.norm_type)}`);
      return { channels: k.channels, out_channels: k.out_channels ?? k.channels, stride: triple(k.stride ?? 2), kernel_size: k.kernel_size ?? 3 };
    },
  },
  {
    className: 'UpsampleCausal3D', module: 'UpsampleCausal3D',
    config: (k, c) => {
      requireSupported(c, k.use_conv !== false && !k.use_conv_transpose, 'use_conv=False or use_conv_transpose');
      requireSupported(c, k.norm_type === undefined || k.norm_type === null, `norm_type ${String(k.norm_type)}`);
      return { channels: k.channels, out_channels: k.out_channels ?? k.channels, upsample_factor: triple(k.upsample_factor ?? [2, 2, 2]), kernel_size: k.kernel_size ?? 3 };
    },
  },
  {
    className: 'ResnetBlockCausal3D', module: 'ResnetBlockCausal3D',
    config: (k, c) => {
      requireSupported(c, k.temb_channels === undefined || k.temb_channels === null, 'temb_channels');
      requireSupported(c, ['swish', 'silu', undefined].includes(k.non_linearity as string | undefined), `non_linearity ${String(k.non_linearity)}`);
      requireSupported(c, k.pre_norm !== false, 'pre_norm=False');
      requireSupported(c, !k.up && !k.down, 'up/down resampling');
      requireSupported(c, k.conv_shortcut_bias !== false, 'conv_shortcut_bias=False');
      const out = k.out_channels ?? k.in_channels;
      return {
        in_channels: k.in_channels, out_channels: out, groups: k.groups ?? 32, eps: k.eps ?? 1e-6,
        output_scale_factor: k.output_scale_factor ?? 1.0,
        use_in_shortcut: k.use_in_shortcut ?? k.in_channels !== out,
      };
    },
  },
  {
    className: 'UNetMidBlockCausal3D', module: 'UNetMidBlockCausal3D',
    config: (k, c) => {
      requireSupported(c, k.temb_channels === undefined || k.temb_channels === null, 'temb_channels');
      requireSupported(c, ['default', undefined].includes(k.resnet_time_scale_shift as string | undefined), `resnet_time_scale_shift ${String(k.resnet_time_scale_shift)}`);
      requireSupported(c, ['swish', 'silu', undefined].includes(k.resnet_act_fn as string | undefined), `resnet_act_fn ${String(k.resnet_act_fn)}`);
      return {
        in_channels: k.in_channels, resnet_eps: k.resnet_eps ?? 1e-6, resnet_groups: k.resnet_groups ?? 32,
        attention_head_dim: k.attention_head_dim ?? k.in_channels, add_attention: k.add_attention ?? true,
        output_scale_factor: k.output_scale_factor ?? 1.0, num_layers: k.num_layers ?? 1,
      };
    },
    aux: { causal_attention_mask: 'attention_mask' },
  },
  {
    className: 'EncoderCausal3D', module: 'EncoderCausal3D',
    config: (k, c) => {
      checkBlockTypes(c, k.down_block_types, 'DownEncoderBlockCausal3D');
      requireSupported(c, ['silu', 'swish', undefined].includes(k.act_fn as string | undefined), `act_fn ${String(k.act_fn)}`);
      return {
        in_channels: k.in_channels ?? 3, out_channels: k.out_channels ?? 3, block_out_channels: k.block_out_channels ?? [64],
        layers_per_block: k.layers_per_block ?? 2, norm_num_groups: k.norm_num_groups ?? 32, double_z: k.double_z ?? true,
        mid_block_add_attention: k.mid_block_add_attention ?? true, time_compression_ratio: k.time_compression_ratio ?? 4,
        spatial_compression_ratio: k.spatial_compression_ratio ?? 8,
      };
    },
  },
  {
    className: 'DecoderCausal3D', module: 'DecoderCausal3D',
    config: (k, c) => {
      checkBlockTypes(c, k.up_block_types, 'UpDecoderBlockCausal3D');
      requireSupported(c, ['silu', 'swish', undefined].includes(k.act_fn as string | undefined), `act_fn ${String(k.act_fn)}`);
      requireSupported(c, ['group', undefined].includes(k.norm_type as string | undefined), `norm_type ${String(k.norm_type)}`);
      return {
        in_channels: k.in_channels ?? 3, out_channels: k.out_channels ?? 3, block_out_channels: k.block_out_channels ?? [64],
        layers_per_block: k.layers_per_block ?? 2, norm_num_groups: k.norm_num_groups ?? 32,
        mid_block_add_attention: k.mid_block_add_attention ?? true, time_compression_ratio: k.time_compression_ratio ?? 4,
        spatial_compression_ratio: k.spatial_compression_ratio ?? 8,
      };
    },
  },
];

function checkBlockTypes(c: GoldenCase, types: unknown, expected: string): void {
  if (types === undefined) return;
  requireSupported(c, Array.isArray(types) && types.every((t) => t === expected), `block types ${JSON.stringify(types)}`);
}

function blockAdapter(spec: BlockSpec): GoldenAdapter {
  return {
    classNames: [spec.className],
    async run(c, ctx) {
      const session = new ModelSession(vaeProgram(), spec.module, spec.config(c.constructorConfig, c), c.weights(), ctx.session);
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

function tilingSetup(call: GoldenCall): { spatial: boolean; temporal: boolean } {
  const s = call.setup;
  if (s && typeof s === 'object') {
    const o = s as Record<string, unknown>;
    return { spatial: o.use_spatial_tiling === true, temporal: o.use_temporal_tiling === true };
  }
  return { spatial: false, temporal: false };
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

const vaeAdapter: GoldenAdapter = {
  classNames: ['AutoencoderKLCausal3D'],
  async run(c: GoldenCase, ctx: GoldenContext) {
    const k = c.constructorConfig;
    checkBlockTypes(c, k.down_block_types, 'DownEncoderBlockCausal3D');
    checkBlockTypes(c, k.up_block_types, 'UpDecoderBlockCausal3D');
    requireSupported(c, ['silu', 'swish', undefined].includes(k.act_fn as string | undefined), `act_fn ${String(k.act_fn)}`);
    const vae = new HunyuanVae(vaeConfigFrom(k), c.weights(), ctx.session);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      vae.flags = tilingSetup(call);
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
