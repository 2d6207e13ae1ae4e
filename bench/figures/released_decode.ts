/**
 * The full-size decode: the released VAE configuration (RELEASED_VAE_CONFIG: 128/256/512/512
 * channels, 16 latent channels) with deterministic random weights, decoding latents
 * [1, 16, 2, 16, 16] (5 frames at 128×128) with 64-pixel tiles (sample_size 64, so
 * tile_latent_min_size 8): 9 tiles of up to [1, 16, 2, 8, 8]. It records the time, every
 * program's planned peak against the adapter's limits, and the measured peak (buffer-pool
 * high-water mark + resident weights).
 *
 * The weights (~146 M decoder parameters, ~0.6 GB f32) are drawn when the weight store first
 * asks for each tensor (bench/lazy_weights.ts); the encoder's are never drawn.
 */
import { bindModule } from '../../compiler/bind.ts';
import { HunyuanVae, RELEASED_VAE_CONFIG, kilnVaeConfig, vaeProgram, type VaeConfig } from '../../models/hunyuan_vae/autoencoder.ts';
import { decodeTileShapes } from '../../models/hunyuan_vae/tiling.ts';
import type { SessionWeights } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import type { BenchContext } from '../context.ts';
import { fmt, uniform } from '../harness.ts';
import { lazyRandomWeights } from '../lazy_weights.ts';

export const RELEASED_TILED_CONFIG: VaeConfig = { ...RELEASED_VAE_CONFIG, sample_size: 64 };
export const RELEASED_LATENT = [1, 16, 2, 16, 16];

/** Lazily drawn weights for `config` (bench/lazy_weights.ts). */
export function lazyRandomVaeWeights(config: VaeConfig, seed = 7): SessionWeights & { drawn: () => number } {
  const bound = bindModule(vaeProgram(), 'AutoencoderKLCausal3D', kilnVaeConfig(config));
  return lazyRandomWeights(new Map(bound.weights.map((w) => [w.key, w.shape])), seed, `random released-config weights (seed ${seed})`);
}

const mb = (b: number): number => b / 2 ** 20;

export async function runReleasedDecode(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  const weights = lazyRandomVaeWeights(RELEASED_TILED_CONFIG);
  const vae = new HunyuanVae(RELEASED_TILED_CONFIG, weights, { backend: 'webgpu', device: dev, tuning: 'cache' });
  vae.enableTiling();
  const tiles = decodeTileShapes(RELEASED_LATENT, vae.flags, vae.tiling);
  const distinct = [...new Set(tiles.map((t) => t.join('x')))].map((t) => t.split('x').map(Number));
  const limits = dev.target.limits;
  let planned = 0;
  for (const t of distinct) {
    const t0 = performance.now();
    const p = vae.session.prepare('decode', [{ dtype: 'F32', shape: t, data: new Float32Array(0) }]).program!;
    const largest = Math.max(...p.tensors.map((x) => x.bytes));
    log(`    program decode [${t.join(', ')}]: ${p.kernels.length} kernels, planned peak ${fmt(mb(p.plan.peakBytes))} MiB (weights ${fmt(mb(p.plan.weightBytes))} MiB), ` +
      `largest tensor ${fmt(mb(largest))} MiB of ${fmt(mb(limits.maxStorageBufferBindingSize))} MiB bindable; compiled in ${fmt((performance.now() - t0) / 1000)} s`);
    planned = Math.max(planned, p.plan.peakBytes);
  }
  const z: HostTensor = { dtype: 'F32', shape: RELEASED_LATENT, data: uniform(RELEASED_LATENT.reduce((a, b) => a * b, 1), 5, -1, 1) };
  dev.pool.trim();
  dev.pool.resetPeak();
  let done = 0;
  vae.onTile = () => { done++; log(`    tile ${done}/${tiles.length} after ${fmt((performance.now() - t0) / 1000)} s`); };
  const t0 = performance.now();
  const out = await vae.decode(z);
  const seconds = (performance.now() - t0) / 1000;
  const measured = dev.pool.peak.inUseBytes + dev.weights.stats.residentBytes;
  let finite = true;
  for (const v of out.data as Float32Array) if (!Number.isFinite(v)) { finite = false; break; }
  if (!finite) throw new Error('the released-config decode produced non-finite values');
  const note = `[${RELEASED_LATENT.join(', ')}] -> [${out.shape.join(', ')}], ${tiles.length} tiles (${distinct.length} programs), 64-pixel tiles; first run: includes shader compiles and drawing + uploading ${fmt(weights.drawn() / 1e6)} M weights`;
  rec.add('released_vae_tiled_decode_seconds', seconds, 's', null, null, note);
  rec.add('released_vae_tiled_decode_planned_peak', mb(planned), 'MiB', 'the adapter\'s maxBufferSize', planned / limits.maxBufferSize, `largest program plan; every tensor within maxStorageBufferBindingSize ${fmt(mb(limits.maxStorageBufferBindingSize))} MiB`);
  rec.add('released_vae_tiled_decode_measured_peak', mb(measured), 'MiB', null, null, 'buffer-pool high-water mark + resident weights');
}
