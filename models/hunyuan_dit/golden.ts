/**
 * Golden adapters for the transformer's cases: HYVideoDiffusionTransformer (constructor kwargs
 * to a DitConfig, forward with its keyword inputs) and `get_nd_rotary_pos_embed` (a function, so
 * the case has no constructor: each call's kwargs become ndRotaryPosEmbed's options).
 */
import type { HostTensor } from '../../runtime/tensor.ts';
import { callInputs, returnedOutputs, UnsupportedGoldenError, type GoldenAdapter, type GoldenContext } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { meshgridAxes, ndRotaryPosEmbed, type RopeOptions } from './rope.ts';
import { ditModelFromKwargs, DitConfigError } from './config.ts';
import type { SessionWeights } from '../../runtime/model.ts';
import { SequenceParallelDit } from './sequence_parallel.ts';
import { HunyuanDit, type DitConfig, type DitModel } from './transformer.ts';

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

type Kwargs = Readonly<Record<string, unknown>>;

/** Upstream's constructor kwargs (the case's, or `k`) as the Kiln module's config; what Kiln does not build is an unsupported case. */
export function ditConfigFrom(c: GoldenCase, k: Kwargs = c.constructorConfig): DitConfig {
  try {
    return ditModelFromKwargs(k).config;
  } catch (err) {
    if (err instanceof DitConfigError) throw new UnsupportedGoldenError(`${c.path}: ${err.message}`);
    throw err;
  }
}

/**
 * The transformer a golden case runs: on the context's session, or by sequence parallelism over
 * its `parallel` sessions (a case whose heads those devices cannot share is unsupported there).
 */
export function goldenDit(c: GoldenCase, config: DitConfig, weights: SessionWeights, ctx: GoldenContext): DitModel {
  if (!ctx.parallel) return new HunyuanDit(config, weights, ctx.session);
  try {
    return new SequenceParallelDit(config, weights, ctx.parallel);
  } catch (err) {
    if (err instanceof RangeError) throw new UnsupportedGoldenError(`${c.path}: ${err.message}`);
    throw err;
  }
}

const ditAdapter: GoldenAdapter = {
  classNames: ['HYVideoDiffusionTransformer'],
  async run(c, ctx) {
    const dit = goldenDit(c, ditConfigFrom(c), c.weights(), ctx);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if ((call.method ?? 'forward') !== 'forward') throw new UnsupportedGoldenError(`${c.path}: HYVideoDiffusionTransformer.${call.method} is not supported (forward only)`);
      const positional = callInputs(c, call);
      const kw = (call.kwargs ?? {}) as Kwargs;
      const named = (key: string): HostTensor | undefined => {
        const v = kw[key];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'string' || !v.startsWith('input.')) throw new UnsupportedGoldenError(`${c.path}: forward's ${key} ${JSON.stringify(v)} is not an input tensor`);
        return c.tensor(v);
      };
      const arg = (i: number, key: string): HostTensor => {
        const t = positional[i] ?? named(key);
        if (!t) throw new UnsupportedGoldenError(`${c.path}: forward needs ${key}`);
        return t;
      };
      const y = await dit.forward({
        x: arg(0, 'x'), t: arg(1, 't'), textStates: arg(2, 'text_states'), textMask: arg(3, 'text_mask'), textStates2: arg(4, 'text_states_2'),
        freqsCos: arg(5, 'freqs_cos'), freqsSin: arg(6, 'freqs_sin'), guidance: positional[7] ?? named('guidance'),
      });
      const name = returnedOutputs(call).names[0];
      if (!name) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output forward returns from "${call.returns}"`);
      out.set(name, y);
      ctx.log(`forward → ${name} [${y.shape.join(', ')}]`);
    }
    return out;
  },
};

export const DIT_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [ditAdapter, ropeAdapter];
