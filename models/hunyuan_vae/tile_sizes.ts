/**
 * Which tile sizes give correctly sized results. Upstream derives every tiling constant from
 * two numbers — the spatial tile size S in pixels (config sample_size) and the temporal tile
 * size F in frames (sample_tsize) — and never crops what it assembles, so the result has the
 * right size only when each tile's kept part equals the stride between tiles (spec/vae.md
 * §7.8). With 4 levels and 8× / 4× compression that means S a multiple of 32 and F a multiple
 * of 16; other values silently give wrong sizes upstream, so Kiln refuses them.
 */
import { tilingFromConfig, type TilingConfig } from './tiling.ts';

export interface TileGeometry {
  /** block_out_channels.length: the latent tile is S / 2^(levels - 1) (upstream's rule). */
  readonly levels: number;
  readonly spatialRatio: number;
  readonly timeRatio: number;
}

/** Why spatial tile size `S` assembles to the wrong size, or undefined when it is fine. */
export function spatialTileProblem(S: number, g: TileGeometry, overlap = 0.25): string | undefined {
  if (!Number.isInteger(S) || S < 1) return `a tile size must be a positive whole number of pixels, not ${S}`;
  const t = tilingFromConfig({ sample_size: S, sample_tsize: 4 * g.timeRatio, block_out_channels: new Array(g.levels).fill(1), time_compression_ratio: g.timeRatio }, overlap);
  const L = t.latentSize;
  const pixelStride = Math.trunc(S * (1 - overlap));
  const latentKept = L - Math.trunc(L * overlap);
  const latentStride = Math.trunc(L * (1 - overlap));
  const pixelKept = S - Math.trunc(S * overlap);
  if (L < 1) return `${S} px is smaller than one latent tile`;
  if (pixelStride % g.spatialRatio !== 0 || latentKept * g.spatialRatio !== pixelStride || pixelKept !== latentStride * g.spatialRatio) {
    return `with ${S} px tiles the kept part of each tile (${latentKept} latents, ${pixelKept} px) does not match the stride between tiles (${pixelStride} px, ${latentStride} latents), so tiled results would have the wrong size`;
  }
  return undefined;
}

/** Why temporal tile size `F` (frames) assembles to the wrong length, or undefined when it is fine. */
export function temporalTileProblem(F: number, g: TileGeometry, overlap = 0.25): string | undefined {
  if (!Number.isInteger(F) || F < 1) return `a temporal tile must be a positive whole number of frames, not ${F}`;
  const Lt = Math.floor(F / g.timeRatio);
  if (Lt < 1) return `${F} frames is shorter than one latent frame`;
  const frameStride = Math.trunc(F * (1 - overlap));
  const latentKept = Lt - Math.trunc(Lt * overlap);
  const latentStride = Math.trunc(Lt * (1 - overlap));
  const frameKept = F - Math.trunc(F * overlap);
  if (frameStride % g.timeRatio !== 0 || latentKept * g.timeRatio !== frameStride || frameKept !== latentStride * g.timeRatio) {
    return `with ${F}-frame tiles the kept part of each tile (${latentKept} latents, ${frameKept} frames) does not match the stride between tiles (${frameStride} frames, ${latentStride} latents), so tiled results would have the wrong length`;
  }
  return undefined;
}

/** Valid sizes from `max` down to the smallest valid one, largest first. */
export function validSizesBelow(max: number, problem: (n: number) => string | undefined): number[] {
  const out: number[] = [];
  for (let n = Math.floor(max); n >= 1; n--) if (!problem(n)) out.push(n);
  return out;
}

/** The valid sizes nearest `n` (below and above), for error messages. */
export function nearestValid(n: number, problem: (n: number) => string | undefined, limit = 4096): number[] {
  const below = validSizesBelow(Math.min(n, limit), problem)[0];
  let above: number | undefined;
  for (let m = Math.max(1, Math.ceil(n)); m <= limit * 2 && above === undefined; m++) if (!problem(m)) above = m;
  return [...new Set([below, above].filter((v): v is number => v !== undefined && v !== n))];
}

export function geometryOf(cfg: { block_out_channels: readonly number[]; spatial_compression_ratio: number; time_compression_ratio: number }): TileGeometry {
  return { levels: cfg.block_out_channels.length, spatialRatio: cfg.spatial_compression_ratio, timeRatio: cfg.time_compression_ratio };
}

/** The tiling constants for tile sizes S (pixels) and F (frames). */
export function tilingFor(S: number, F: number, g: TileGeometry, overlap = 0.25): TilingConfig {
  return tilingFromConfig({ sample_size: S, sample_tsize: F, block_out_channels: new Array(g.levels).fill(1), time_compression_ratio: g.timeRatio }, overlap);
}
