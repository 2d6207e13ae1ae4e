/**
 * Tiled encode and decode exactly as upstream (spec/vae.md §7): which path is taken when, the
 * tile loops and strides, the clipped blend ramps, the in-place blending order (later tiles
 * blend against already-blended neighbours), the first frame dropped from every temporal tile
 * after the first, and the output sizes upstream produces (no final crop).
 *
 * Each tile is a separate program run (`TileRunner`), so memory is bounded by one tile.
 */
import { Tensor5 } from './tensor5.ts';

export interface TilingConfig {
  /** tile_sample_min_size: spatial tile size in pixels (config sample_size). */
  readonly sampleSize: number;
  /** tile_latent_min_size = sample_size / 2^(levels - 1). */
  readonly latentSize: number;
  /** tile_sample_min_tsize: temporal tile size in frames (config sample_tsize). */
  readonly sampleTSize: number;
  /** tile_latent_min_tsize = sample_tsize / time_compression_ratio. */
  readonly latentTSize: number;
  /** tile_overlap_factor (0.25). */
  readonly overlap: number;
}

export interface TilingFlags {
  readonly spatial: boolean;
  readonly temporal: boolean;
}

export function tilingFromConfig(cfg: { sample_size: number; sample_tsize: number; block_out_channels: readonly number[]; time_compression_ratio?: number }, overlap = 0.25): TilingConfig {
  return {
    sampleSize: cfg.sample_size,
    latentSize: Math.trunc(cfg.sample_size / 2 ** (cfg.block_out_channels.length - 1)),
    sampleTSize: cfg.sample_tsize,
    latentTSize: Math.floor(cfg.sample_tsize / (cfg.time_compression_ratio ?? 4)),
    overlap,
  };
}

export interface TileRunner {
  /** quant_conv(encoder(x)) of one tile. */
  encodeTile(x: Tensor5): Promise<Tensor5>;
  /** decoder(post_quant_conv(z)) of one tile. */
  decodeTile(z: Tensor5): Promise<Tensor5>;
  /** Called after every tile (progress). */
  onTile?(): void;
}

const range = (n: number, step: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
};

// ------------------------------------------------------------------ dispatch (encode / _decode)

export type EncodePath = 'temporal' | 'spatial' | 'none';

export function encodePath(shape: readonly number[], flags: TilingFlags, cfg: TilingConfig): EncodePath {
  const [, , T, H, W] = shape;
  if (flags.temporal && T > cfg.sampleTSize) return 'temporal';
  if (flags.spatial && (W > cfg.sampleSize || H > cfg.sampleSize)) return 'spatial';
  return 'none';
}

export function decodePath(shape: readonly number[], flags: TilingFlags, cfg: TilingConfig): EncodePath {
  const [, , T, H, W] = shape;
  if (flags.temporal && T > cfg.latentTSize) return 'temporal';
  if (flags.spatial && (W > cfg.latentSize || H > cfg.latentSize)) return 'spatial';
  return 'none';
}

/** The moments of x (quant_conv(encoder(x)), tiled as upstream's encode would). */
export async function encodeMoments(x: Tensor5, flags: TilingFlags, cfg: TilingConfig, run: TileRunner): Promise<Tensor5> {
  switch (encodePath(x.shape, flags, cfg)) {
    case 'temporal': return temporalTiledEncode(x, flags, cfg, run);
    case 'spatial': return spatialTiledEncode(x, cfg, run);
    case 'none': return tile(run, () => run.encodeTile(x));
  }
}

/** The decoded sample of z (decoder(post_quant_conv(z)), tiled as upstream's _decode would). */
export async function decodeSample(z: Tensor5, flags: TilingFlags, cfg: TilingConfig, run: TileRunner): Promise<Tensor5> {
  switch (decodePath(z.shape, flags, cfg)) {
    case 'temporal': return temporalTiledDecode(z, flags, cfg, run);
    case 'spatial': return spatialTiledDecode(z, cfg, run);
    case 'none': return tile(run, () => run.decodeTile(z));
  }
}

async function tile(run: TileRunner, f: () => Promise<Tensor5>): Promise<Tensor5> {
  const out = await f();
  run.onTile?.();
  return out;
}

// ------------------------------------------------------------------ spatial

/** Blend rows then columns in place, row-major, and keep each tile's first `limit` rows/columns. */
function assembleSpatial(rows: Tensor5[][], extent: number, limit: number): Tensor5 {
  const resultRows: Tensor5[] = [];
  rows.forEach((row, i) => {
    const kept: Tensor5[] = [];
    row.forEach((t, j) => {
      if (i > 0) t.blendFrom(rows[i - 1][j], 3, extent);
      if (j > 0) t.blendFrom(row[j - 1], 4, extent);
      kept.push(t.crop(0, t.shape[2], 0, limit, 0, limit));
    });
    resultRows.push(Tensor5.concat(kept, 4));
  });
  return Tensor5.concat(resultRows, 3);
}

export function spatialEncodeGrid(H: number, W: number, cfg: TilingConfig): { rows: number[]; cols: number[]; stride: number } {
  const stride = Math.trunc(cfg.sampleSize * (1 - cfg.overlap));
  return { rows: range(H, stride), cols: range(W, stride), stride };
}

export async function spatialTiledEncode(x: Tensor5, cfg: TilingConfig, run: TileRunner): Promise<Tensor5> {
  const [, , T, H, W] = x.shape;
  const { rows: ri, cols: ci } = spatialEncodeGrid(H, W, cfg);
  const extent = Math.trunc(cfg.latentSize * cfg.overlap);
  const limit = cfg.latentSize - extent;
  const rows: Tensor5[][] = [];
  for (const i of ri) {
    const row: Tensor5[] = [];
    for (const j of ci) row.push(await tile(run, () => run.encodeTile(x.crop(0, T, i, i + cfg.sampleSize, j, j + cfg.sampleSize))));
    rows.push(row);
  }
  return assembleSpatial(rows, extent, limit);
}

export function spatialDecodeGrid(h: number, w: number, cfg: TilingConfig): { rows: number[]; cols: number[]; stride: number } {
  const stride = Math.trunc(cfg.latentSize * (1 - cfg.overlap));
  return { rows: range(h, stride), cols: range(w, stride), stride };
}

export async function spatialTiledDecode(z: Tensor5, cfg: TilingConfig, run: TileRunner): Promise<Tensor5> {
  const [, , T, h, w] = z.shape;
  const { rows: ri, cols: ci } = spatialDecodeGrid(h, w, cfg);
  const extent = Math.trunc(cfg.sampleSize * cfg.overlap);
  const limit = cfg.sampleSize - extent;
  const rows: Tensor5[][] = [];
  for (const i of ri) {
    const row: Tensor5[] = [];
    for (const j of ci) row.push(await tile(run, () => run.decodeTile(z.crop(0, T, i, i + cfg.latentSize, j, j + cfg.latentSize))));
    rows.push(row);
  }
  return assembleSpatial(rows, extent, limit);
}

// ------------------------------------------------------------------ temporal

function assembleTemporal(row: Tensor5[], extent: number, limit: number): Tensor5 {
  const kept = row.map((t, i) => {
    if (i === 0) return t.crop(0, limit + 1, 0, t.shape[3], 0, t.shape[4]);
    t.blendFrom(row[i - 1], 2, extent);
    return t.crop(0, limit, 0, t.shape[3], 0, t.shape[4]);
  });
  return Tensor5.concat(kept, 2);
}

export async function temporalTiledEncode(x: Tensor5, flags: TilingFlags, cfg: TilingConfig, run: TileRunner): Promise<Tensor5> {
  const [, , T, H, W] = x.shape;
  const stride = Math.trunc(cfg.sampleTSize * (1 - cfg.overlap));
  const extent = Math.trunc(cfg.latentTSize * cfg.overlap);
  const limit = cfg.latentTSize - extent;
  const row: Tensor5[] = [];
  for (const i of range(T, stride)) {
    const piece = x.crop(i, i + cfg.sampleTSize + 1, 0, H, 0, W);
    let m = flags.spatial && (piece.shape[4] > cfg.sampleSize || piece.shape[3] > cfg.sampleSize)
      ? await spatialTiledEncode(piece, cfg, run)
      : await tile(run, () => run.encodeTile(piece));
    if (i > 0) m = m.crop(1, m.shape[2], 0, m.shape[3], 0, m.shape[4]);
    row.push(m);
  }
  return assembleTemporal(row, extent, limit);
}

export async function temporalTiledDecode(z: Tensor5, flags: TilingFlags, cfg: TilingConfig, run: TileRunner): Promise<Tensor5> {
  const [, , T, h, w] = z.shape;
  const stride = Math.trunc(cfg.latentTSize * (1 - cfg.overlap));
  const extent = Math.trunc(cfg.sampleTSize * cfg.overlap);
  const limit = cfg.sampleTSize - extent;
  const row: Tensor5[] = [];
  for (const i of range(T, stride)) {
    const piece = z.crop(i, i + cfg.latentTSize + 1, 0, h, 0, w);
    let d = flags.spatial && (piece.shape[4] > cfg.latentSize || piece.shape[3] > cfg.latentSize)
      ? await spatialTiledDecode(piece, cfg, run)
      : await tile(run, () => run.decodeTile(piece));
    if (i > 0) d = d.crop(1, d.shape[2], 0, d.shape[3], 0, d.shape[4]);
    row.push(d);
  }
  return assembleTemporal(row, extent, limit);
}

// ------------------------------------------------------------------ planning (progress, memory)

/** Every tile shape a decode will run, in order (for progress bars and memory planning). */
export function decodeTileShapes(shape: readonly number[], flags: TilingFlags, cfg: TilingConfig): number[][] {
  const [B, C, T, h, w] = shape;
  const spatial = (t: number): number[][] => {
    const g = spatialDecodeGrid(h, w, cfg);
    return g.rows.flatMap((i) => g.cols.map((j) => [B, C, t, Math.min(h, i + cfg.latentSize) - i, Math.min(w, j + cfg.latentSize) - j]));
  };
  switch (decodePath(shape, flags, cfg)) {
    case 'none': return [[B, C, T, h, w]];
    case 'spatial': return spatial(T);
    case 'temporal': {
      const stride = Math.trunc(cfg.latentTSize * (1 - cfg.overlap));
      return range(T, stride).flatMap((i) => {
        const t = Math.min(T, i + cfg.latentTSize + 1) - i;
        return flags.spatial && (w > cfg.latentSize || h > cfg.latentSize) ? spatial(t) : [[B, C, t, h, w]];
      });
    }
  }
}

export function encodeTileShapes(shape: readonly number[], flags: TilingFlags, cfg: TilingConfig): number[][] {
  const [B, C, T, H, W] = shape;
  const spatial = (t: number): number[][] => {
    const g = spatialEncodeGrid(H, W, cfg);
    return g.rows.flatMap((i) => g.cols.map((j) => [B, C, t, Math.min(H, i + cfg.sampleSize) - i, Math.min(W, j + cfg.sampleSize) - j]));
  };
  switch (encodePath(shape, flags, cfg)) {
    case 'none': return [[B, C, T, H, W]];
    case 'spatial': return spatial(T);
    case 'temporal': {
      const stride = Math.trunc(cfg.sampleTSize * (1 - cfg.overlap));
      return range(T, stride).flatMap((i) => {
        const t = Math.min(T, i + cfg.sampleTSize + 1) - i;
        return flags.spatial && (W > cfg.sampleSize || H > cfg.sampleSize) ? spatial(t) : [[B, C, t, H, W]];
      });
    }
  }
}
