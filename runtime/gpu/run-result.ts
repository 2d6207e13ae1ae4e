/**
 * RunResult: what one program run gives back — the outputs read back, the memory plan, the
 * profile if asked for, and GPU handles to the outputs.
 *
 * Ownership: the result holds the arenas that contain outputs (arenas with only intermediates
 * are returned to the pool when the run finishes). `take(name)` hands out a GpuTensor that owns
 * its own reference (release it when done); `release()` gives the result's references back.
 * A result dropped without release() gives them back when garbage-collected.
 */
import type { MemoryPlan, TensorInfo } from '../../compiler/kernel.ts';
import type { HostTensor } from '../tensor.ts';
import { GpuTensorError, InputMismatchError } from './errors.ts';
import { GpuTensor, type SharedBuffer } from './gpu-tensor.ts';
import type { ProfileEntry, ProfileMethod } from './profile.ts';

export interface RunResult {
  /** The outputs that were read back, by output name. */
  readonly outputs: Readonly<Record<string, HostTensor>>;
  readonly plan: MemoryPlan;
  /** Planned peak bytes (inputs + weights + arenas), as reported before the run. */
  readonly peakBytes: number;
  /** Per-kernel times, in kernel order, when the run was profiled. */
  readonly profile?: readonly ProfileEntry[];
  readonly profileMethod?: ProfileMethod;
  /** A GPU handle to output `name`, owned by the caller (call its release()). */
  take(name: string): GpuTensor;
  /** Gives the result's arenas back to the pool; taken GpuTensors stay valid. */
  release(): void;
  readonly released: boolean;
}

const dropped = new FinalizationRegistry<readonly SharedBuffer[]>((arenas) => { for (const a of arenas) a.release(); });

export interface OutputLocation {
  readonly info: TensorInfo;
  readonly arena: SharedBuffer;
  readonly offset: number;
}

export class ProgramRunResult implements RunResult {
  private arenas: readonly SharedBuffer[] | undefined;

  constructor(
    readonly outputs: Readonly<Record<string, HostTensor>>,
    readonly plan: MemoryPlan,
    private readonly locations: ReadonlyMap<string, OutputLocation>,
    arenas: readonly SharedBuffer[],
    private readonly device: GPUDevice,
    readonly profile?: readonly ProfileEntry[],
    readonly profileMethod?: ProfileMethod,
  ) {
    this.arenas = arenas;
    dropped.register(this, arenas, this);
  }

  get peakBytes(): number {
    return this.plan.peakBytes;
  }

  get released(): boolean {
    return this.arenas === undefined;
  }

  take(name: string): GpuTensor {
    const loc = this.locations.get(name);
    if (!loc) throw new InputMismatchError(`'${name}' is not an output of this program. Outputs: ${[...this.locations.keys()].join(', ') || '(none)'}.`);
    if (!this.arenas) throw new GpuTensorError(`take('${name}') after the run result was released; take outputs before release().`);
    return new GpuTensor(loc.arena, loc.offset, loc.info, this.device);
  }

  release(): void {
    const arenas = this.arenas;
    if (!arenas) return;
    this.arenas = undefined;
    dropped.unregister(this);
    for (const a of arenas) a.release();
  }
}
