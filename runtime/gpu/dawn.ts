/**
 * Dawn in Node: the one place that imports the `webgpu` package, installs its globals
 * (GPUBufferUsage, GPUMapMode, ...) and creates Dawn instances for a backend.
 *
 * Vocabulary
 * - Backend: Dawn's name for a native API; Kiln uses `vulkan` (native GPUs, Mesa lavapipe) and
 *   `opengles` (EGL without a display; the fallback on machines whose Vulkan driver is missing
 *   or too old). Dawn's `null` backend compiles and validates but never executes: Kiln opens it
 *   only to check kernels (shader-check.ts), never to run them.
 * - Instance: what `create()` returns (a `GPU`). There is one per (backend, adapter name) for
 *   the life of the process, made on first use and never dropped. When a released device's
 *   instance was dropped, the collector could finalize it while dawn.node still polled events;
 *   the poll then locked a freed mutex, and the process aborted ("std::system_error: Invalid
 *   argument"), segfaulted or hung (test/runtime/fixtures/reacquire-child.ts: 6 runs in 10).
 * - Toggles: every instance enables Dawn's `allow_unsafe_apis`. Dawn offers its
 *   chromium-experimental-* features, subgroup matrices (tensor cores) among them, only with it:
 *   without it no adapter lists `chromium-experimental-subgroup-matrix` nor reports its
 *   configurations, so the subgroup-matrix kernels could never be chosen. Otherwise it only
 *   permits API and WGSL extensions Kiln does not use (binding arrays, unsafe experimental
 *   WGSL); bounds checks (robustness) are a toggle of their own and stay on.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';

export type Backend = 'vulkan' | 'opengles';
export const BACKENDS: readonly Backend[] = ['vulkan', 'opengles'];
/** A backend Dawn can open: Kiln's, or `null` (validation only, see above). */
export type DawnBackend = Backend | 'null';

const TOGGLES = 'enable-dawn-features=allow_unsafe_apis';

let globalsInstalled = false;

function installGlobals(): void {
  if (globalsInstalled) return;
  // Only fill what is missing: another library (or a test) may have installed them already.
  for (const [k, v] of Object.entries(globals as Record<string, unknown>)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  globalsInstalled = true;
}

/**
 * Environment Mesa and EGL read when the driver loads, so it must be set before `create()`.
 * XDG_RUNTIME_DIR only silences Mesa's warning; EGL_PLATFORM=surfaceless lets EGL start
 * without a display. Values the user set are kept.
 */
export function prepareEnvironment(backend: DawnBackend, env: NodeJS.ProcessEnv = process.env): void {
  if (!env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `kiln-xdg-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
  if (backend === 'opengles' && !env.EGL_PLATFORM) env.EGL_PLATFORM = 'surfaceless';
}

/** The options `requestAdapter` needs on a backend: OpenGL ES only offers compatibility mode. */
export function adapterOptions(backend: DawnBackend, powerPreference?: GPUPowerPreference): GPURequestAdapterOptions {
  const opts: GPURequestAdapterOptions = {};
  if (powerPreference) opts.powerPreference = powerPreference;
  if (backend === 'opengles') (opts as { featureLevel?: string }).featureLevel = 'compatibility';
  return opts;
}

const instances = new Map<string, GPU>();

/**
 * The process's Dawn instance for one backend; `adapterName` selects an adapter by (part of) its
 * name. A `pciAddress` gets an instance of its own, whose adapters are those Vulkan showed it
 * while selectPciDevice's environment was set (pci.ts).
 */
export function dawnInstance(backend: DawnBackend, adapterName?: string, pciAddress?: string): GPU {
  const flags = [`backend=${backend}`, TOGGLES];
  if (adapterName !== undefined) flags.push(`adapter=${adapterName}`);
  const key = [...flags, pciAddress ?? ''].join('\n');
  let gpu = instances.get(key);
  if (!gpu) {
    prepareEnvironment(backend);
    installGlobals();
    gpu = create(flags);
    instances.set(key, gpu);
  }
  return gpu;
}

/** A name no adapter has: asking for it makes Dawn list the adapters it does have. */
const NO_SUCH_ADAPTER = 'kiln-enumerate-adapters-\u2400';

/**
 * Names of the adapters a backend offers, in Dawn's order. WebGPU has no enumeration call;
 * Dawn's node binding lists "Available adapters" when asked for a name that does not exist,
 * so this asks for one. Returns [] when the backend has no adapter at all.
 */
export async function adapterNames(backend: Backend): Promise<string[]> {
  const gpu = dawnInstance(backend, NO_SUCH_ADAPTER);
  try {
    const adapter = await gpu.requestAdapter(adapterOptions(backend));
    // Dawn matched the impossible name: enumeration is not possible this way.
    return adapter ? [adapterDisplayName(adapter.info)] : [];
  } catch (err) {
    return parseAvailableAdapters(err instanceof Error ? err.message : String(err), backend);
  }
}

/** Parses Dawn's " * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'" lines. */
export function parseAvailableAdapters(message: string, backend: Backend): string[] {
  const names: string[] = [];
  for (const m of message.matchAll(/^\s*\*\s*backend:\s*'([^']*)',\s*name:\s*'(.*)'\s*$/gm)) {
    if (m[1] === backend) names.push(m[2]);
  }
  return names;
}

const adapterDisplayName = (info: GPUAdapterInfo): string => info.description || info.device || info.vendor || 'adapter';
