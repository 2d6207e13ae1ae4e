/**
 * FlowMatchDiscreteScheduler as the sampler drives it: the host schedule (schedule.ts) plus the
 * tensor update, FlowMatchEuler in flow_match.kiln, run through a ModelSession (fused WGSL on
 * the device, or the reference interpreter). The update always runs in float32, whatever the
 * session's storage dtype, because upstream upcasts the sample and the velocity before stepping.
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProgram, type Program } from '../../dsl/program.ts';
import { ModelSession, weightsFromMap, type SessionOptions } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { FlowMatchSchedule, type FlowMatchConfig } from './schedule.ts';

export const FLOW_MATCH_SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), 'flow_match.kiln');

let cachedProgram: Program | undefined;

/** The sampler arithmetic's Kiln program (parsed once per process). */
export function flowMatchProgram(): Program {
  return (cachedProgram ??= loadProgram([FLOW_MATCH_SOURCE]));
}

const scalar = (v: number): HostTensor => ({ dtype: 'F32', shape: [], data: Float32Array.of(v) });

export class FlowMatchDiscreteScheduler {
  readonly schedule: FlowMatchSchedule;
  private readonly session: ModelSession;

  constructor(config: FlowMatchConfig, session: SessionOptions) {
    this.schedule = new FlowMatchSchedule(config);
    this.session = new ModelSession(flowMatchProgram(), 'FlowMatchEuler', {}, weightsFromMap(new Map(), '<no weights>'), { ...session, dtype: 'f32' });
  }

  get sigmas(): Float32Array {
    return this.schedule.sigmas;
  }

  get timesteps(): Float32Array {
    return this.schedule.timesteps;
  }

  setTimesteps(numInferenceSteps: number): void {
    this.schedule.setTimesteps(numInferenceSteps);
  }

  /** x + v · (sigma[k+1] − sigma[k]) for the step at `timestep` (upstream `step(...).prev_sample`). */
  async step(modelOutput: HostTensor, timestep: number, sample: HostTensor): Promise<HostTensor> {
    const dt = this.schedule.advance(timestep);
    return (await this.session.call('step', [sample, modelOutput, scalar(dt)])).outputs.out;
  }

  /** v_uncond + scale · (v_cond − v_uncond). */
  async classifierFreeGuidance(vUncond: HostTensor, vCond: HostTensor, scale: number): Promise<HostTensor> {
    return (await this.session.call('classifier_free_guidance', [vUncond, vCond, { value: scale }])).outputs.out;
  }

  /** The i2v token_replace step: frame 0 becomes `imageLatents`, frames 1.. take the Euler step. */
  async tokenReplaceStep(modelOutput: HostTensor, timestep: number, sample: HostTensor, imageLatents: HostTensor): Promise<HostTensor> {
    const dt = this.schedule.advance(timestep);
    return (await this.session.call('token_replace_step', [sample, modelOutput, imageLatents, scalar(dt)])).outputs.out;
  }
}
