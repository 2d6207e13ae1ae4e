/**
 * The GPU device: one per process. `acquireDevice()` opens it on first call — Dawn's Vulkan
 * backend first (native GPUs, Mesa lavapipe on CPU-only machines), then OpenGL ES through EGL
 * without a display — and returns the same KilnDevice on every later call. `releaseDevice()`
 * destroys it so the process can exit (Dawn's instance stays for the next one, see dawn.ts);
 * it is also destroyed when the process exits.
 *
 * Vocabulary
 * - KilnDevice: the GPUDevice plus what Kiln keeps per device — its Target (the limits and
 *   features it was granted, the adapter's identity), the buffer pool, the pipeline cache, the
 *   weight store and the executor. It watches `device.lost`: after a loss every use throws
 *   DeviceLostError with the reason.
 * - The limits Kiln cares about are requested at the adapter's real values, and shader-f16,
 *   subgroups, timestamp-query and subgroup matrices are enabled when offered
 *   (gpu/request-device.ts).
 */
import type { CompiledProgram } from '../compiler/kernel.ts';
import type { Target } from '../compiler/target.ts';
import { Executor, type RunOptions, type RunResult } from './executor.ts';
import { describeAdapter, subgroupMatrixSupport, targetOf, type SubgroupMatrixSupport } from './gpu/adapter-info.ts';
import { probeAllBackends, type BackendReport } from './gpu/adapter-probe.ts';
import { BufferPool } from './gpu/buffer-pool.ts';
import type { GpuContext } from './gpu/context.ts';
import { adapterNames, adapterOptions, dawnInstance, type Backend } from './gpu/dawn.ts';
import { selectPciDevice } from './gpu/pci.ts';
import { DeviceLostError, NoAdapterError } from './gpu/errors.ts';
import { PipelineCache } from './gpu/pipeline-cache.ts';
import { requestKilnDevice } from './gpu/request-device.ts';
import type { RunInput } from './gpu/run-inputs.ts';
import { WeightStore, type WeightSet } from './gpu/weight-store.ts';

export { NoAdapterError, DeviceLostError, KernelError, ResourceLimitError, MissingFeatureError, InputMismatchError, WeightMismatchError } from './gpu/errors.ts';
export type { Backend } from './gpu/dawn.ts';
export type { BackendReport, AdapterFound } from './gpu/adapter-probe.ts';
export type { WeightSet, WeightSource } from './gpu/weight-store.ts';

export interface AcquireOptions {
  /** `auto` (default) tries Vulkan, then OpenGL ES. */
  backend?: 'auto' | Backend;
  powerPreference?: GPUPowerPreference;
  /** Pick the n-th adapter (in Dawn's order, see `kiln devices`) instead of the default one. */
  adapterIndex?: number;
  /**
   * The GPU at this PCI address (`0000:17:00.0`; device_group.ts): Dawn names adapters only, so
   * identical GPUs are told apart by Mesa's device-select Vulkan layer, which then shows Dawn
   * that GPU alone.
   */
  pciAddress?: string;
}

export class KilnDevice implements GpuContext {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly target: Target;
  readonly backend: Backend;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly weights: WeightStore;
  readonly executor: Executor;
  /** Subgroup-matrix (tensor-core) configurations the device was granted; undefined on most adapters (lavapipe has none). */
  readonly subgroupMatrix: SubgroupMatrixSupport | undefined;
  /** Uncaptured WebGPU errors seen so far (errors outside any run's error scopes). */
  uncapturedErrors = 0;
  /** Where uncaptured WebGPU errors are reported; replace to route them elsewhere. */
  onUncapturedError: (message: string) => void = (m) => console.error(`kiln: uncaptured WebGPU error: ${m}`);
  private destroyed = false;
  private lostInfo: { reason: string; message: string } | undefined;

  constructor(adapter: GPUAdapter, device: GPUDevice, backend: Backend) {
    this.adapter = adapter;
    this.device = device;
    this.backend = backend;
    this.target = targetOf(adapter, device, backend);
    this.subgroupMatrix = subgroupMatrixSupport(adapter, device);
    this.pool = new BufferPool(device, this.target.limits.maxBufferSize);
    this.pipelines = new PipelineCache(device);
    this.weights = new WeightStore(device);
    this.executor = new Executor(this);
    device.lost.then((info) => {
      this.lostInfo ??= { reason: info.reason, message: info.message };
      if (info.reason !== 'destroyed') console.error(`kiln: the GPU device was lost (${info.reason}): ${info.message}`);
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncapturedErrors++;
      this.onUncapturedError(ev.error.message);
    };
  }

  get lost(): boolean {
    return this.lostInfo !== undefined;
  }

  assertAlive(): void {
    const l = this.lostInfo;
    if (!l) return;
    if (l.reason === 'released') {
      throw new DeviceLostError('The GPU device was released (releaseDevice() was called); call acquireDevice() again for a new one.', l.reason);
    }
    throw new DeviceLostError(
      `The GPU device was lost (reason: ${l.reason}): ${l.message || '(no message)'}\n` +
        'Everything on it (weights, buffers, pipelines) is gone. Devices are lost when a kernel runs too long for the ' +
        "driver's watchdog, the driver crashes or the GPU is reset. Restart the process; if it happens again, run " +
        'smaller pieces (e.g. `kiln vae decode --tile`).',
      l.reason,
    );
  }

  /** Registers the weight set programs on this device read (see WeightStore). */
  setWeights(set: WeightSet): void {
    this.assertAlive();
    this.weights.setWeights(set);
  }

  /** Runs a program; see Executor.run. */
  run(program: CompiledProgram, inputs: Readonly<Record<string, RunInput>>, opts?: RunOptions): Promise<RunResult> {
    return this.executor.run(program, inputs, opts);
  }

  /** One line naming the adapter and backend. */
  describe(): string {
    const a = this.target.adapter;
    return `${describeAdapter(a)} (${this.backend}${a.isFallbackAdapter ? ', fallback/CPU adapter' : ''})`;
  }

  /** Destroys the device (Dawn's instance stays, see dawn.ts); every later use throws DeviceLostError. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.lostInfo ??= { reason: 'released', message: 'released by releaseDevice()' };
    this.weights.clear();
    this.pool.trim();
    this.device.onuncapturederror = null;
    this.device.destroy();
  }
}

let current: Promise<KilnDevice> | undefined;
let onExit: (() => void) | undefined;

/** The process's device, opened on the first call; later calls return it (options are then ignored). */
export function acquireDevice(opts: AcquireOptions = {}): Promise<KilnDevice> {
  if (!current) {
    const opening = openDevice(opts);
    current = opening;
    opening.then(
      (dev) => {
        onExit = () => dev.destroy();
        process.once('exit', onExit);
      },
      () => { if (current === opening) current = undefined; },
    );
  }
  return current;
}

/** Destroys the process's device, if any, so that Node can exit; a later acquireDevice opens a new one. */
export async function releaseDevice(): Promise<void> {
  const opening = current;
  current = undefined;
  if (!opening) return;
  let dev: KilnDevice;
  try {
    dev = await opening;
  } catch {
    return;
  }
  if (onExit) process.removeListener('exit', onExit);
  onExit = undefined;
  dev.destroy();
}

/**
 * A device of its own (not the process's shared one, see acquireDevice): several of them run
 * one model across GPUs (device_group.ts). The caller destroys it.
 */
export async function openDevice(opts: AcquireOptions): Promise<KilnDevice> {
  const backends: Backend[] = !opts.backend || opts.backend === 'auto' ? ['vulkan', 'opengles'] : [opts.backend];
  const attempts: string[] = [];
  for (const backend of backends) {
    try {
      let name: string | undefined;
      if (opts.adapterIndex !== undefined) {
        const names = await adapterNames(backend);
        if (opts.adapterIndex < 0 || opts.adapterIndex >= names.length) {
          const list = names.map((n, i) => `${i}: ${n}`).join('; ') || 'none';
          attempts.push(`${backend}: adapter index ${opts.adapterIndex} asked for, but this backend has ${names.length} adapter(s) (${list})`);
          continue;
        }
        name = names[opts.adapterIndex];
      }
      const adapter = await requestAdapterOn(backend, name, opts);
      if (!adapter) {
        attempts.push(`${backend}: requestAdapter() returned no adapter`);
        continue;
      }
      return new KilnDevice(adapter, await requestKilnDevice(adapter), backend);
    } catch (err) {
      attempts.push(`${backend}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  throw noAdapterError(attempts, await probeAllBackends(backends));
}

/** Adapter selections by PCI address run one at a time: the layer reads the process's environment. */
let selecting: Promise<unknown> = Promise.resolve();

async function requestAdapterOn(backend: Backend, name: string | undefined, opts: AcquireOptions): Promise<GPUAdapter | null> {
  const options = adapterOptions(backend, opts.powerPreference);
  const pci = opts.pciAddress;
  if (pci === undefined) return dawnInstance(backend, name).requestAdapter(options);
  const turn = selecting.then(async () => {
    // Dawn enumerates the physical devices within requestAdapter's synchronous part, on a Dawn
    // instance of this address's own, so the environment is only needed around that call.
    const restore = selectPciDevice(pci);
    try {
      return await dawnInstance(backend, name, pci).requestAdapter(options);
    } finally {
      restore();
    }
  });
  selecting = turn.catch(() => undefined);
  return turn;
}

function noAdapterError(attempts: readonly string[], reports: readonly BackendReport[]): NoAdapterError {
  const messages = reports.flatMap((r) => r.messages.map((m) => `${r.backend}: ${m}`));
  const lines = [
    'No WebGPU adapter found: Kiln needs a GPU (or a CPU Vulkan driver) that Dawn can use.',
    'Tried:',
    ...attempts.map((a) => `  ${a}`),
  ];
  if (messages.length) lines.push('What the drivers said:', ...messages.map((m) => `  ${m}`));
  else lines.push('The drivers printed nothing.');
  lines.push(
    'How to fix:',
    '  - Debian 12 without a GPU: install Mesa\'s lavapipe (a Vulkan driver on the CPU) from bookworm-backports:',
    '      apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1',
    '    (add bookworm-backports to your apt sources first), or run scripts/setup.sh, which does this.',
    '    Debian 12\'s own Mesa 22.3 is too old for Dawn.',
    '  - NVIDIA server: install the driver\'s Vulkan ICD and the Vulkan loader (libvulkan1); if the loader',
    '    does not find the driver, export VK_DRIVER_FILES=/usr/share/vulkan/icd.d/nvidia_icd.json (or wherever',
    '    the driver put nvidia_icd.json).',
    '  - Then check with `kiln devices`.',
  );
  return new NoAdapterError(lines.join('\n'), attempts, messages);
}

/** Every adapter each backend offers, probed in child processes (no device is kept). */
export function listAdapters(backends?: readonly Backend[]): Promise<BackendReport[]> {
  return probeAllBackends(backends);
}
