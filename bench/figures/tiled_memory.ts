/**
 * The tiled-decode memory benchmark: VAE decode at growing output sizes, untiled and tiled,
 * with the planned peak (the largest plan among the programs a decode runs: inputs + weights +
 * arenas) and the measured peak — the device buffer pool's high-water mark of bytes handed
 * out during the decode (arenas, input and readback buffers) plus the weights resident on the
 * GPU — and the time of a warm decode. With tiling, every tile is its own program run, so
 * memory stays flat as the output grows; untiled it grows with the output.
 *
 * The built-in tiny VAE with 64-pixel tiles (sample_size 64: 8-latent tiles, 6-latent stride),
 * latents of 2 frames (5 output frames).
 */
import { HunyuanVae } from '../../models/hunyuan_vae/autoencoder.ts';
import { decodeTileShapes } from '../../models/hunyuan_vae/tiling.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../models/hunyuan_vae/random_weights.ts';
import { weightsFromMap } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import type { BenchContext } from '../context.ts';
import { fmt, uniform } from '../harness.ts';

export const TILED_SIZES = [8, 16, 32];
const mb = (b: number): number => b / 2 ** 20;

export interface MemoryRow { readonly latent: number; readonly tiled: boolean; readonly tiles: number; readonly plannedMiB: number; readonly measuredMiB: number; readonly ms: number }

export async function runTiledMemory(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  const vae = new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights(), 'built-in tiny VAE'), { backend: 'webgpu', device: dev, tuning: 'none' });
  for (const tiled of [false, true]) {
    for (const s of TILED_SIZES) {
      const shape = [1, TINY_VAE_CONFIG.latent_channels, 2, s, s];
      vae.flags = { spatial: tiled, temporal: tiled };
      const tiles = decodeTileShapes(shape, vae.flags, vae.tiling);
      let planned = 0;
      for (const t of new Set(tiles.map((x) => x.join('x')))) {
        const p = vae.session.prepare('decode', [{ dtype: 'F32', shape: t.split('x').map(Number), data: new Float32Array(0) }]).program!;
        planned = Math.max(planned, p.plan.peakBytes);
      }
      const z: HostTensor = { dtype: 'F32', shape, data: uniform(shape.reduce((a, b) => a * b, 1), 21 + s, -1, 1) };
      await vae.decode(z); // compiles, uploads weights
      // Free buffers left by earlier sizes are not this decode's memory.
      dev.pool.trim();
      dev.pool.resetPeak();
      const t0 = performance.now();
      const out = await vae.decode(z);
      const ms = performance.now() - t0;
      const measured = dev.pool.peak.inUseBytes + dev.weights.stats.residentBytes;
      const what = `${tiled ? 'tiled' : 'untiled'}_latent${s}`;
      log(`    decode [${shape.join(', ')}] -> [${out.shape.join(', ')}] ${tiled ? `tiled (${tiles.length} tiles)` : 'untiled'}: planned ${fmt(mb(planned))} MiB, measured ${fmt(mb(measured))} MiB, ${fmt(ms)} ms`);
      const note = `output ${out.shape[3]}x${out.shape[4]}x${out.shape[2]} frames, ${tiles.length} tile${tiles.length === 1 ? '' : 's'}`;
      rec.add(`tiled_decode_${what}_planned_peak`, mb(planned), 'MiB', null, null, note);
      rec.add(`tiled_decode_${what}_measured_peak`, mb(measured), 'MiB', null, null, 'buffer-pool high-water mark + resident weights');
      rec.add(`tiled_decode_${what}_ms`, ms, 'ms');
    }
  }
}
