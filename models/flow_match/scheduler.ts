/**
 * FlowMatchDiscreteScheduler as the sampler drives it: the host schedule (schedule.ts) plus the
 * tensor update (arithmetic.ts), each step taking sigma[k+1] − sigma[k] from the schedule.
 */
import type { SessionOptions } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { FlowMatchArithmetic } from './arithmetic.ts';
import { FlowMatchSchedule, type FlowMatchConfig } from './schedule.ts';

export class FlowMatchDiscreteScheduler {
  readonly schedule: FlowMatchSchedule;
  /** The sampler's other tensor arithmetic (guidance, the i2v inputs), on the same session. */
  readonly arithmetic: FlowMatchArithmetic;

  constructor(config: FlowMatchConfig, session: SessionOptions) {
    this.schedule = new FlowMatchSchedule(config);
    this.arithmetic = new FlowMatchArithmetic(session);
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
  step(modelOutput: HostTensor, timestep: number, sample: HostTensor): Promise<HostTensor> {
    return this.arithmetic.step(sample, modelOutput, this.schedule.advance(timestep));
  }

  /** The i2v token_replace step: frame 0 becomes `imageLatents`, frames 1.. take the Euler step. */
  tokenReplaceStep(modelOutput: HostTensor, timestep: number, sample: HostTensor, imageLatents: HostTensor): Promise<HostTensor> {
    return this.arithmetic.tokenReplaceStep(sample, modelOutput, imageLatents, this.schedule.advance(timestep));
  }
}
