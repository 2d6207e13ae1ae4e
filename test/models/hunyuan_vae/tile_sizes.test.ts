/**
 * Tile sizes are accepted exactly when upstream's tile loops assemble results of the right
 * size. The expectation comes from simulating the loops of spec/vae.md §7.3–7.6 on sizes alone
 * (tile starts, each tile's output length, the first-frame drop, the kept part) over many input
 * sizes — not from the formulas under test.
 */
import { describe, expect, it } from 'vitest';
import { nearestValid, spatialTileProblem, temporalTileProblem, validSizesBelow, type TileGeometry } from '../../../models/hunyuan_vae/tile_sizes.ts';

const G: TileGeometry = { levels: 4, spatialRatio: 8, timeRatio: 4 };
const OVERLAP = 0.25;

const starts = (n: number, step: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
};

/** Does a spatially tiled encode (of W px) and decode (of w latents) come out 8× / ÷8 exactly, for every size tried? */
function spatialAssemblesExactly(S: number): boolean {
  const L = Math.trunc(S / 8);
  if (L < 1) return false;
  const encStride = Math.trunc(S * (1 - OVERLAP));
  const encKeep = L - Math.trunc(L * OVERLAP);
  const decStride = Math.trunc(L * (1 - OVERLAP));
  const decKeep = S - Math.trunc(S * OVERLAP);
  if (encStride < 1 || decStride < 1) return false;
  for (let w = 1; w <= 48; w++) {
    const W = 8 * w;
    const enc = starts(W, encStride).reduce((s, i) => s + Math.min(encKeep, Math.ceil(Math.min(S, W - i) / 8)), 0);
    const dec = starts(w, decStride).reduce((s, i) => s + Math.min(decKeep, 8 * Math.min(L, w - i)), 0);
    if (enc !== w || dec !== W) return false;
  }
  return true;
}

/** The same for temporally tiled encode (T = 4k+1 frames) and decode (n latents). */
function temporalAssemblesExactly(F: number): boolean {
  const Lt = Math.floor(F / 4);
  if (Lt < 1) return false;
  const encStride = Math.trunc(F * (1 - OVERLAP));
  const encLimit = Lt - Math.trunc(Lt * OVERLAP);
  const decStride = Math.trunc(Lt * (1 - OVERLAP));
  const decLimit = F - Math.trunc(F * OVERLAP);
  if (encStride < 1 || decStride < 1) return false;
  for (let k = 0; k <= 60; k++) {
    const T = 4 * k + 1;
    const enc = starts(T, encStride).reduce((s, i, idx) => {
      const n = Math.ceil(Math.min(F + 1, T - i) / 4) - (idx > 0 ? 1 : 0);
      return s + Math.min(idx === 0 ? encLimit + 1 : encLimit, n);
    }, 0);
    const n = k + 1;
    const dec = starts(n, decStride).reduce((s, i, idx) => {
      const frames = 4 * Math.min(Lt + 1, n - i) - 3 - (idx > 0 ? 1 : 0);
      return s + Math.min(idx === 0 ? decLimit + 1 : decLimit, frames);
    }, 0);
    if (enc !== n || dec !== T) return false;
  }
  return true;
}

describe('tile sizes', () => {
  it('accepts a spatial tile size exactly when tiled results keep their size', () => {
    for (let S = 1; S <= 320; S++) expect(spatialTileProblem(S, G) === undefined, `S = ${S}`).toBe(spatialAssemblesExactly(S));
    // The released 256 and the built-in 64 are valid; spec §7.8's 40 is not.
    expect(spatialTileProblem(256, G)).toBeUndefined();
    expect(spatialTileProblem(40, G)).toMatch(/does not match the stride between tiles/);
  });

  it('accepts a temporal tile size exactly when tiled results keep their length', () => {
    for (let F = 1; F <= 160; F++) expect(temporalTileProblem(F, G) === undefined, `F = ${F}`).toBe(temporalAssemblesExactly(F));
    expect(temporalTileProblem(64, G)).toBeUndefined();
    expect(temporalTileProblem(8, G)).toMatch(/wrong length/);
  });

  it('lists valid sizes largest first and suggests the nearest ones', () => {
    const spatial = (n: number) => spatialTileProblem(n, G);
    expect(validSizesBelow(130, spatial)).toEqual([128, 96, 64, 32]);
    expect(nearestValid(40, spatial)).toEqual([32, 64]);
    expect(nearestValid(20, spatial)).toEqual([32]);
    expect(nearestValid(70, (n) => temporalTileProblem(n, G))).toEqual([64, 80]);
  });

  it('rejects non-integers and sizes below one latent', () => {
    expect(spatialTileProblem(32.5, G)).toMatch(/positive whole number/);
    expect(spatialTileProblem(4, G)).toMatch(/smaller than one latent tile/);
    expect(temporalTileProblem(0, G)).toMatch(/positive whole number/);
    expect(temporalTileProblem(3, G)).toMatch(/shorter than one latent frame/);
  });
});
