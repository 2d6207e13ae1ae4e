/**
 * The golden adapter for upstream's `get_nd_rotary_pos_embed` (a function, so the case has no
 * constructor): each call's kwargs become ndRotaryPosEmbed's options.
 */
import { returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { meshgridAxes, ndRotaryPosEmbed, type RopeOptions } from './rope.ts';

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

export const DIT_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [ropeAdapter];
