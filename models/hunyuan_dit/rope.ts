/**
 * The transformer's rotary position tables (spec/pipeline.md §8.7; upstream
 * `get_nd_rotary_pos_embed` with use_real=True): for every token of a (t, h, w) latent grid,
 * flattened in that order, the cos and sin of position · frequency per axis, each frequency
 * repeated for the two adjacent channels it rotates, the axes' blocks side by side.
 *
 * The tables depend only on sizes, so like upstream they are made once on the host, in
 * float32 as PyTorch computes them (torch_f32.ts). Making them in a kernel would be no faster
 * to use and less exact: WGSL only promises sin/cos to 2^-11 absolute, far from the ~1e-7 of
 * upstream's tables.
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { linspaceF32 } from '../common/torch_f32.ts';

const f32 = Math.fround;

export class RopeError extends Error {
  readonly userFacing = true;
  override name = 'RopeError';
}

/** Per-axis settings: a single number applies to every axis, as upstream's floats do. */
type PerAxis = number | readonly number[];

export interface RopeOptions {
  /** Channels each axis rotates (even; their sum is the attention head's dimension). */
  readonly ropeDimList: readonly number[];
  /** Positions per axis: `grid` from meshgridAxes, or simply the grid sizes (positions 0..n-1). */
  readonly grid: readonly number[] | GridAxes;
  readonly theta?: number;
  readonly thetaRescaleFactor?: PerAxis;
  readonly interpolationFactor?: PerAxis;
  /** Frequencies replaced after they are computed: `frequency` for entry `index` of axis `axis` (RIFLEx). */
  readonly overrides?: readonly { readonly axis: number; readonly index: number; readonly frequency: number }[];
}

/** The positions along each axis of the grid (float32). */
export interface GridAxes {
  readonly axes: readonly Float32Array[];
}

/**
 * Upstream `get_meshgrid_nd`'s three forms, per axis: `num` alone (positions 0..num-1);
 * `start, stop` (stop − start positions from start, step 1); or `start, stop, num` (num
 * positions from start towards stop, stop excluded) — each `linspace(start, stop, num + 1)[:num]`.
 */
export function meshgridAxes(dims: number, start: PerAxis, stop?: PerAxis, num?: PerAxis): GridAxes {
  const tuple = (v: PerAxis, what: string): readonly number[] => {
    if (typeof v === 'number') return Array.from({ length: dims }, () => v);
    if (v.length !== dims) throw new RopeError(`${what} has ${v.length} entries for a ${dims}-axis grid: give one per axis, or a single number`);
    return v;
  };
  let starts: readonly number[];
  let stops: readonly number[];
  let nums: readonly number[];
  if (stop === undefined) {
    nums = tuple(start, 'the grid size');
    starts = nums.map(() => 0);
    stops = nums;
  } else {
    starts = tuple(start, 'start');
    stops = tuple(stop, 'stop');
    nums = num === undefined ? stops.map((s, i) => s - starts[i]) : tuple(num, 'num');
  }
  const axes = nums.map((n, i) => {
    if (!Number.isInteger(n) || n < 0) throw new RopeError(`axis ${i} of the grid has ${n} positions: expected a non-negative integer`);
    return linspaceF32(starts[i], stops[i], n + 1).slice(0, n);
  });
  return { axes };
}

const perAxis = (v: PerAxis | undefined, dims: number, what: string): readonly number[] => {
  if (v === undefined) return Array.from({ length: dims }, () => 1);
  if (typeof v === 'number') return Array.from({ length: dims }, () => v);
  if (v.length === 1) return Array.from({ length: dims }, () => v[0]);
  if (v.length !== dims) throw new RopeError(`${what} has ${v.length} entries for ${dims} axes: give one per axis, or a single number`);
  return v;
};

/**
 * One axis's frequencies, 1 / theta^(2j / dim) for j < dim / 2, in float32 (upstream
 * `get_1d_rotary_pos_embed`; a rescale factor other than 1 stretches theta first, NTK style).
 */
export function axisFrequencies(dim: number, theta: number, thetaRescaleFactor = 1): Float32Array {
  const th = thetaRescaleFactor === 1 ? theta : theta * thetaRescaleFactor ** (dim / (dim - 2));
  const base = f32(th);
  const half = Math.floor(dim / 2);
  const out = new Float32Array(half);
  for (let j = 0; j < half; j++) out[j] = f32(1 / f32(base ** f32((2 * j) / dim)));
  return out;
}

/** freqs_cos and freqs_sin, each [tokens, sum(ropeDimList)] float32, tokens in (t, h, w) order. */
export function ndRotaryPosEmbed(opts: RopeOptions): { cos: HostTensor; sin: HostTensor } {
  const dims = opts.ropeDimList;
  if (dims.length === 0) throw new RopeError('rope_dim_list is empty: give the channels of each axis, e.g. [16, 56, 56]');
  for (const d of dims) {
    if (!Number.isInteger(d) || d <= 0 || d % 2 !== 0) throw new RopeError(`rope_dim_list [${dims.join(', ')}]: every entry must be a positive even integer (channels rotate in pairs)`);
  }
  const grid = 'axes' in opts.grid ? opts.grid : meshgridAxes(dims.length, opts.grid);
  if (grid.axes.length !== dims.length) throw new RopeError(`the grid has ${grid.axes.length} axes but rope_dim_list ${dims.length}`);
  const theta = opts.theta ?? 10000;
  const rescale = perAxis(opts.thetaRescaleFactor, dims.length, 'theta_rescale_factor');
  const interpolation = perAxis(opts.interpolationFactor, dims.length, 'interpolation_factor');

  const sizes = grid.axes.map((a) => a.length);
  const tokens = sizes.reduce((a, b) => a * b, 1);
  const width = dims.reduce((a, b) => a + b, 0);
  const cos = new Float32Array(tokens * width);
  const sin = new Float32Array(tokens * width);
  let offset = 0;
  dims.forEach((dim, axis) => {
    const freqs = axisFrequencies(dim, theta, rescale[axis]);
    for (const o of opts.overrides ?? []) if (o.axis === axis) freqs[o.index] = o.frequency;
    const factor = f32(interpolation[axis]);
    // Tokens run over the grid in row-major (t, h, w) order: this axis's position index is
    // (token / inner) % size, with `inner` the product of the later axes' sizes.
    const inner = sizes.slice(axis + 1).reduce((a, b) => a * b, 1);
    const positions = grid.axes[axis];
    for (let token = 0; token < tokens; token++) {
      const pos = f32(positions[Math.floor(token / inner) % sizes[axis]] * factor);
      const row = token * width + offset;
      for (let j = 0; j < freqs.length; j++) {
        const angle = f32(pos * freqs[j]);
        cos[row + 2 * j] = cos[row + 2 * j + 1] = Math.cos(angle);
        sin[row + 2 * j] = sin[row + 2 * j + 1] = Math.sin(angle);
      }
    }
    offset += dim;
  });
  const shape = [tokens, width];
  return { cos: { dtype: 'F32', shape, data: cos }, sin: { dtype: 'F32', shape, data: sin } };
}

/**
 * The tables HunyuanVideoSampler hands the transformer for a video of `videoLength` frames whose
 * patch grid is `grid` (latent frames, rows, columns), as its get_rotary_pos_embed builds them:
 * plain n-d RoPE up to 192 frames; beyond, RIFLEx — temporal frequency k − 1 set to
 * 0.9 · 2π / (latent frames), k = clamp(2 + (frames + 3) // 100, 4, 8), so the longer video stays
 * within one period of it.
 */
export function samplerRotaryTables(videoLength: number, grid: readonly [number, number, number], ropeDimList: readonly number[], theta = 256): { cos: HostTensor; sin: HostTensor } {
  if (videoLength <= 192) return ndRotaryPosEmbed({ ropeDimList, grid, theta });
  const k = Math.max(4, Math.min(8, 2 + Math.floor((videoLength + 3) / 100)));
  if (k - 1 >= ropeDimList[0] / 2) throw new RopeError(`RIFLEx for ${videoLength} frames replaces temporal frequency ${k - 1}, but the time axis has only ${ropeDimList[0] / 2}`);
  return ndRotaryPosEmbed({ ropeDimList, grid, theta, overrides: [{ axis: 0, index: k - 1, frequency: f32((0.9 * 2 * Math.PI) / grid[0]) }] });
}
