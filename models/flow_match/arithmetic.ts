/**
 * The sampler's tensor arithmetic, FlowMatchEuler in flow_match.kiln, behind one ModelSession
 * (fused WGSL on the device, or the reference interpreter), so the scheduler and the pipeline
 * share its compiled programs. It always runs in float32, whatever the caller's storage dtype:
 * upstream upcasts the sample and the velocity before stepping.
 */
import { lazyProgram } from '../../dsl/program.ts';
import { ModelSession, weightsFromMap, type CallInput, type SessionOptions } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';

/** The sampler arithmetic's Kiln program (parsed once per process). */
export const flowMatchProgram = lazyProgram(import.meta.url, ['flow_match.kiln']);

const scalar = (v: number): HostTensor => ({ dtype: 'F32', shape: [], data: Float32Array.of(v) });

export class FlowMatchArithmetic {
  private readonly session: ModelSession;

  constructor(session: SessionOptions) {
    this.session = new ModelSession(flowMatchProgram(), 'FlowMatchEuler', {}, weightsFromMap(new Map(), '<no weights>'), { ...session, dtype: 'f32' });
  }

  private async call(fn: string, args: readonly CallInput[]): Promise<HostTensor> {
    return (await this.session.call(fn, args)).outputs.out;
  }

  /** x + v · dt. */
  step(x: HostTensor, v: HostTensor, dt: number): Promise<HostTensor> {
    return this.call('step', [x, v, scalar(dt)]);
  }

  /** The token_replace step: frame 0 becomes `imageLatents`, frames 1.. take x + v · dt. */
  tokenReplaceStep(x: HostTensor, v: HostTensor, imageLatents: HostTensor, dt: number): Promise<HostTensor> {
    return this.call('token_replace_step', [x, v, imageLatents, scalar(dt)]);
  }

  /** v_uncond + scale · (v_cond − v_uncond). */
  classifierFreeGuidance(vUncond: HostTensor, vCond: HostTensor, scale: number): Promise<HostTensor> {
    return this.call('classifier_free_guidance', [vUncond, vCond, { value: scale }]);
  }

  /** noise · t + image · oneMinusT on every frame (i2v_stability's start). */
  stabilityInit(noise: HostTensor, imageLatents: HostTensor, t: number, oneMinusT: number): Promise<HostTensor> {
    return this.call('stability_init', [noise, imageLatents, { value: t }, { value: oneMinusT }]);
  }

  /** `x` with frame 0 replaced by the image latent (token_replace, before every forward). */
  withImageFrame(x: HostTensor, imageLatents: HostTensor): Promise<HostTensor> {
    return this.call('with_image_frame', [x, imageLatents]);
  }

  /** latent_concat's transformer input: [x; image on frame 0; frame-0 mask] along channels. */
  latentConcatInput(x: HostTensor, imageLatents: HostTensor): Promise<HostTensor> {
    return this.call('latent_concat_input', [x, imageLatents]);
  }
}
