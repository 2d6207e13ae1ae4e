/**
 * HunyuanVae: the autoencoder as users drive it — a ModelSession over AutoencoderKLCausal3D
 * (models/hunyuan_vae/vae.kiln) plus upstream's host-side behaviour: the tiling flags and
 * the tiled paths (tiling.ts), the posterior of the assembled moments, and the latent scale.
 */
import { lazyProgram } from '../../dsl/program.ts';
import { ModelSession, type SessionOptions, type SessionWeights, type CallOptions, type CallResult } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { Tensor5 } from './tensor5.ts';
import { decodeSample, encodeMoments, tilingFromConfig, type TileRunner, type TilingConfig, type TilingFlags } from './tiling.ts';

/** The VAE's Kiln program (parsed once per process). */
export const vaeProgram = lazyProgram(import.meta.url, ['blocks.kiln', 'vae.kiln']);

/** The AutoencoderKLCausal3D config fields Kiln uses (others in a config.json are ignored). */
export interface VaeConfig {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly block_out_channels: readonly number[];
  readonly layers_per_block: number;
  readonly latent_channels: number;
  readonly norm_num_groups: number;
  readonly sample_size: number;
  readonly sample_tsize: number;
  readonly scaling_factor: number;
  readonly time_compression_ratio: number;
  readonly spatial_compression_ratio: number;
  readonly mid_block_add_attention: boolean;
}

/** The released HunyuanVideo(-I2V) VAE config, "884-16c-hy" (spec/vae.md §1.1). */
export const RELEASED_VAE_CONFIG: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  latent_channels: 16,
  norm_num_groups: 32,
  sample_size: 256,
  sample_tsize: 64,
  scaling_factor: 0.476986,
  time_compression_ratio: 4,
  spatial_compression_ratio: 8,
  mid_block_add_attention: true,
};

/** The class defaults of AutoencoderKLCausal3D, for fields a config file leaves out. */
const CLASS_DEFAULTS: VaeConfig = {
  in_channels: 3, out_channels: 3, block_out_channels: [64], layers_per_block: 1, latent_channels: 4, norm_num_groups: 32,
  sample_size: 32, sample_tsize: 64, scaling_factor: 0.18215, time_compression_ratio: 4, spatial_compression_ratio: 8,
  mid_block_add_attention: true,
};

/** A VaeConfig from a config.json-like object (unknown fields such as `_class_name` are ignored). */
export function vaeConfigFrom(json: Readonly<Record<string, unknown>>): VaeConfig {
  const out: Record<string, unknown> = { ...CLASS_DEFAULTS };
  for (const k of Object.keys(CLASS_DEFAULTS)) if (json[k] !== undefined && json[k] !== null) out[k] = json[k];
  return out as unknown as VaeConfig;
}

/** The Kiln module's constructor arguments. */
export function kilnVaeConfig(c: VaeConfig): Record<string, unknown> {
  return { ...c, block_out_channels: [...c.block_out_channels] };
}

export interface Posterior {
  readonly parameters: HostTensor;
  readonly mean: HostTensor;
  readonly logvar: HostTensor;
  readonly std: HostTensor;
}

export class HunyuanVae {
  readonly session: ModelSession;
  /** Tile sizes (from the config's sample_size / sample_tsize unless overridden). */
  tiling: TilingConfig;
  /** Upstream's use_spatial_tiling / use_temporal_tiling (both off after construction). */
  flags: TilingFlags = { spatial: false, temporal: false };
  /** Called after every encoder/decoder tile. */
  onTile?: () => void;
  /** Called with every program call's result (e.g. to collect per-kernel profiles). */
  onCall?: (fn: string, result: CallResult) => void;
  callOptions: CallOptions = {};

  constructor(readonly config: VaeConfig, weights: SessionWeights, opts: SessionOptions, tiling?: Partial<TilingConfig>) {
    this.session = new ModelSession(vaeProgram(), 'AutoencoderKLCausal3D', kilnVaeConfig(config), weights, opts);
    this.tiling = { ...tilingFromConfig(config), ...tiling };
  }

  /** Upstream enable_tiling(): both spatial and temporal. */
  enableTiling(on = true): void {
    this.flags = { spatial: on, temporal: on };
  }

  private runner(): TileRunner {
    const one = async (fn: string, t: Tensor5): Promise<Tensor5> => {
      const r = await this.session.call(fn, [t.toHost()], this.callOptions);
      this.onCall?.(fn, r);
      return Tensor5.from(Object.values(r.outputs)[0]);
    };
    return {
      encodeTile: (x) => one('moments', x),
      decodeTile: (z) => one('decode', z),
      onTile: () => this.onTile?.(),
    };
  }

  /** The posterior's parameters, quant_conv(encoder(x)), tiled when the flags and sizes say so. */
  async moments(x: HostTensor): Promise<HostTensor> {
    return (await encodeMoments(Tensor5.from(x), this.flags, this.tiling, this.runner())).toHost();
  }

  async posterior(moments: HostTensor): Promise<Posterior> {
    const r = await this.session.call('posterior', [moments], this.callOptions);
    this.onCall?.('posterior', r);
    return { parameters: moments, mean: r.outputs.mean, logvar: r.outputs.logvar, std: r.outputs.std };
  }

  /** encode(x).latent_dist: the diagonal Gaussian posterior. */
  async encode(x: HostTensor): Promise<Posterior> {
    return this.posterior(await this.moments(x));
  }

  /** decode(z).sample: unscaled latents to pixels (nominally [-1, 1]). */
  async decode(z: HostTensor): Promise<HostTensor> {
    return (await decodeSample(Tensor5.from(z), this.flags, this.tiling, this.runner())).toHost();
  }

  /** forward(x) with sample_posterior=false: decode(encode(x).mode()). */
  async forward(x: HostTensor): Promise<HostTensor> {
    return this.decode((await this.encode(x)).mean);
  }
}
