/**
 * The golden adapter for upstream's FlowMatchDiscreteScheduler: the recorded calls are the
 * constructor (its initial table), set_timesteps (sigmas, timesteps) and a loop of `step`s
 * over the schedule, each stepping the previous result with the next recorded model output.
 */
import { elementCount, toFloat32, type HostTensor } from '../../runtime/tensor.ts';
import { returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { DEFAULT_FLOW_MATCH_CONFIG, type FlowMatchConfig } from './schedule.ts';
import { FlowMatchDiscreteScheduler } from './scheduler.ts';

const CONSTRUCTOR_KWARGS = new Set(['num_train_timesteps', 'shift', 'reverse', 'solver', 'n_tokens']);

/** The constructor kwargs (the case's, or `k`) as a FlowMatchConfig (upstream's defaults for those left out). */
export function flowMatchConfigFrom(c: GoldenCase, k: Readonly<Record<string, unknown>> = c.constructorConfig): FlowMatchConfig {
  const unknown = Object.keys(k).filter((key) => !CONSTRUCTOR_KWARGS.has(key));
  if (unknown.length) throw new UnsupportedGoldenError(`${c.path}: FlowMatchDiscreteScheduler has no constructor argument ${unknown.join(', ')}`);
  // Upstream raises on any other solver; n_tokens is accepted and unused.
  if ((k.solver ?? 'euler') !== 'euler') throw new UnsupportedGoldenError(`${c.path}: solver ${JSON.stringify(k.solver)} (upstream supports only "euler")`);
  const number = (key: string, fallback: number): number => {
    const v = k[key] ?? fallback;
    if (typeof v !== 'number') throw new UnsupportedGoldenError(`${c.path}: ${key} ${JSON.stringify(v)} is not a number`);
    return v;
  };
  return {
    numTrainTimesteps: number('num_train_timesteps', DEFAULT_FLOW_MATCH_CONFIG.numTrainTimesteps),
    shift: number('shift', DEFAULT_FLOW_MATCH_CONFIG.shift),
    reverse: (k.reverse ?? DEFAULT_FLOW_MATCH_CONFIG.reverse) === true,
  };
}

/** The two outputs a call reports, the sigmas then the timesteps (in the order its `returns` names them). */
function scheduleOutputs(c: GoldenCase, call: GoldenCall): [string, string] {
  const { names } = returnedOutputs(call);
  if (names.length !== 2) throw new UnsupportedGoldenError(`${c.path}: ${call.method} returns "${call.returns}"; expected the sigmas and the timesteps`);
  return [names[0], names[1]];
}

/**
 * The step loop's tensors, read from its text: the starting sample, the stacked model outputs
 * (one per step) and the stacked results, e.g. "sample = input.sample; for i, t in
 * enumerate(timesteps): sample = step(input.model_outputs[i], t, sample).prev_sample;
 * output.prev_samples[i] = sample".
 */
function stepLoop(c: GoldenCase, call: GoldenCall): { sample: string; modelOutputs: string; results: string } {
  const text = typeof call.loop === 'string' ? call.loop : '';
  const sample = /sample\s*=\s*input\.(\w+)/.exec(text)?.[1];
  const modelOutputs = /step\(\s*input\.(\w+)\[i\]\s*,\s*t\s*,\s*sample\s*\)/.exec(text)?.[1];
  const results = /output\.(\w+)\[i\]\s*=\s*sample/.exec(text)?.[1];
  if (!sample || !modelOutputs || !results || !/for i, t in enumerate\(timesteps\)/.test(text)) {
    throw new UnsupportedGoldenError(`${c.path}: the step loop "${text}" is not understood (expected: sample = input.S; for i, t in enumerate(timesteps): sample = step(input.V[i], t, sample).prev_sample; output.R[i] = sample)`);
  }
  return { sample, modelOutputs, results };
}

/** Slice i of a stacked tensor (its first axis). */
function slice0(t: HostTensor, i: number): HostTensor {
  const inner = elementCount(t.shape.slice(1));
  return { dtype: 'F32', shape: t.shape.slice(1), data: toFloat32(t).slice(i * inner, (i + 1) * inner) };
}

const f32Tensor = (values: Float32Array): HostTensor => ({ dtype: 'F32', shape: [values.length], data: Float32Array.from(values) });

const schedulerAdapter: GoldenAdapter = {
  classNames: ['FlowMatchDiscreteScheduler'],
  async run(c, ctx) {
    let scheduler: FlowMatchDiscreteScheduler | undefined;
    const out = new Map<string, HostTensor>();
    /** The sigmas and timesteps the scheduler holds now, under the names the call reports them as. */
    const recordSchedule = (call: GoldenCall, s: FlowMatchDiscreteScheduler): void => {
      const [sigmas, timesteps] = scheduleOutputs(c, call);
      out.set(sigmas, f32Tensor(s.sigmas));
      out.set(timesteps, f32Tensor(s.timesteps));
    };
    for (const call of c.calls) {
      const method = call.method ?? '';
      if (method === '__init__') {
        scheduler = new FlowMatchDiscreteScheduler(flowMatchConfigFrom(c), ctx.session);
        if (call.returns) recordSchedule(call, scheduler);
        continue;
      }
      scheduler ??= new FlowMatchDiscreteScheduler(flowMatchConfigFrom(c), ctx.session);
      if (method === 'set_timesteps') {
        const n = call.kwargs?.num_inference_steps;
        if (typeof n !== 'number') throw new UnsupportedGoldenError(`${c.path}: set_timesteps without a num_inference_steps number`);
        scheduler.setTimesteps(n);
        recordSchedule(call, scheduler);
        ctx.log(`set_timesteps(${n}): sigma ${scheduler.sigmas[0]} → ${scheduler.sigmas[n]}`);
      } else if (method === 'step') {
        const loop = stepLoop(c, call);
        const outputs = c.tensor(`input.${loop.modelOutputs}`);
        const timesteps = scheduler.timesteps;
        if (outputs.shape[0] !== timesteps.length) {
          throw new UnsupportedGoldenError(`${c.path}: input.${loop.modelOutputs} holds ${outputs.shape[0]} model outputs for ${timesteps.length} timesteps`);
        }
        let sample = c.tensor(`input.${loop.sample}`);
        const results = new Float32Array(elementCount(outputs.shape));
        for (let i = 0; i < timesteps.length; i++) {
          sample = await scheduler.step(slice0(outputs, i), timesteps[i], sample);
          results.set(toFloat32(sample), i * elementCount(sample.shape));
        }
        out.set(loop.results, { dtype: 'F32', shape: outputs.shape, data: results });
        ctx.log(`${timesteps.length} Euler steps`);
      } else {
        throw new UnsupportedGoldenError(`${c.path}: FlowMatchDiscreteScheduler.${method} is not supported (__init__, set_timesteps, step)`);
      }
    }
    return out;
  },
};

export const FLOW_MATCH_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [schedulerAdapter];
