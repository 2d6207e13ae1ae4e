/**
 * The flow-matching schedule of HunyuanVideo's FlowMatchDiscreteScheduler (spec/pipeline.md
 * §2): the noise levels sigma (1 → 0 with `reverse`, the one setting the sampler uses), the
 * timesteps the transformer is fed (sigma · 1000, not rounded) and the step bookkeeping of
 * upstream's `step`. Host numbers only, computed in float32 as upstream does (torch_f32.ts);
 * the tensor update is FlowMatchEuler.step in flow_match.kiln.
 */
import { linspaceF32 } from '../common/torch_f32.ts';

const f32 = Math.fround;

export interface FlowMatchConfig {
  /** Training timesteps: the scale from sigma to timestep, and the size of the initial table. */
  readonly numTrainTimesteps: number;
  /** The SD3 time shift: sigma = shift·u / (1 + (shift − 1)·u) over a uniform grid u. */
  readonly shift: number;
  /** sigma descends from 1 to 0 (upstream's class default and the sampler's setting). */
  readonly reverse: boolean;
}

export const DEFAULT_FLOW_MATCH_CONFIG: FlowMatchConfig = { numTrainTimesteps: 1000, shift: 1, reverse: true };

export class ScheduleError extends Error {
  readonly userFacing = true;
  override name = 'ScheduleError';
}

export class FlowMatchSchedule {
  /** N + 1 noise levels (numTrainTimesteps + 1 before setTimesteps). */
  sigmas: Float32Array;
  /** The N timesteps handed to the model: sigma[0..N-1] · numTrainTimesteps. */
  timesteps: Float32Array;
  private stepIndex: number | undefined;
  private beginIndex: number | undefined;

  constructor(readonly config: FlowMatchConfig = DEFAULT_FLOW_MATCH_CONFIG) {
    if (!Number.isInteger(config.numTrainTimesteps) || config.numTrainTimesteps < 1) {
      throw new ScheduleError(`num_train_timesteps must be a positive integer, got ${config.numTrainTimesteps}`);
    }
    if (!Number.isFinite(config.shift) || config.shift <= 0) throw new ScheduleError(`shift must be a positive number, got ${config.shift}`);
    // Upstream's constructor fills an unshifted table; set_timesteps always replaces it.
    const sigmas = linspaceF32(1, 0, config.numTrainTimesteps + 1);
    if (!config.reverse) sigmas.reverse();
    this.sigmas = sigmas;
    this.timesteps = this.timestepsOf(sigmas);
  }

  /** The schedule of an N-step run (upstream `set_timesteps`); the step index starts afresh. */
  setTimesteps(numInferenceSteps: number): void {
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
      throw new ScheduleError(`the number of inference steps must be a positive integer, got ${numInferenceSteps}`);
    }
    const u = linspaceF32(1, 0, numInferenceSteps + 1);
    // sd3_time_shift in float32: (shift · u) / (1 + (shift − 1) · u).
    const shift = f32(this.config.shift);
    const shiftMinusOne = f32(this.config.shift - 1);
    const sigmas = u.map((x) => f32(f32(shift * x) / f32(1 + f32(shiftMinusOne * x))));
    if (!this.config.reverse) for (let i = 0; i < sigmas.length; i++) sigmas[i] = f32(1 - sigmas[i]);
    this.sigmas = sigmas;
    this.timesteps = this.timestepsOf(sigmas);
    this.stepIndex = undefined;
  }

  /** Start the next run at step `index` instead of looking the first timestep up (upstream `set_begin_index`). */
  setBeginIndex(index: number): void {
    this.beginIndex = index;
  }

  /** The step the next `advance` takes, once known. */
  get currentStep(): number | undefined {
    return this.stepIndex;
  }

  /**
   * sigma[k+1] − sigma[k] (float32) for the step at `timestep`, and on to step k+1: upstream's
   * bookkeeping, where the first step of a run finds k by looking the timestep up (the second
   * match when it occurs twice) and later steps just count.
   */
  advance(timestep: number): number {
    if (this.stepIndex === undefined) this.stepIndex = this.beginIndex ?? this.indexOf(timestep);
    const k = this.stepIndex;
    if (k + 1 >= this.sigmas.length) {
      throw new ScheduleError(`step ${k + 1} of a ${this.sigmas.length - 1}-step schedule: the run has already reached the last sigma; call setTimesteps to start another`);
    }
    this.stepIndex = k + 1;
    return f32(this.sigmas[k + 1] - this.sigmas[k]);
  }

  private indexOf(timestep: number): number {
    const t = f32(timestep);
    const hits: number[] = [];
    this.timesteps.forEach((v, i) => { if (v === t) hits.push(i); });
    if (hits.length === 0) {
      throw new ScheduleError(`timestep ${timestep} is not one of this schedule's timesteps (${this.timesteps.length} from ${this.timesteps[0]}); pass a value of \`timesteps\` after setTimesteps`);
    }
    return hits.length > 1 ? hits[1] : hits[0];
  }

  private timestepsOf(sigmas: Float32Array): Float32Array {
    const scale = this.config.numTrainTimesteps;
    return sigmas.slice(0, -1).map((s) => f32(s * scale));
  }
}
