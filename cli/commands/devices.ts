/**
 * `kiln devices`: lists the WebGPU adapters each backend offers — identity, fallback flag,
 * feature level, the limits Kiln plans with and the features it uses — and, for a backend that
 * yields nothing, what Dawn and the drivers printed. Each backend is probed in a child process,
 * so no device is kept open.
 */
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { listAdapters, type AdapterFound, type Backend, type BackendReport } from '../../runtime/device.ts';
import { LIMIT_NAMES, WANTED_FEATURES } from '../../runtime/gpu/adapter-info.ts';
import { formatBytes } from '../../runtime/gpu/errors.ts';
import { hasDeviceSelectLayer, pciGpus, type PciGpu } from '../../runtime/gpu/pci.ts';

const HELP = `Usage: kiln devices [--json] [--backend vulkan|opengles]

Lists the WebGPU adapters Kiln can use, backend by backend, in the order Kiln tries them:
Dawn's Vulkan backend (native GPUs; Mesa's lavapipe on machines without a GPU), then
OpenGL ES through EGL without a display (a fallback with lower limits).

For each adapter it prints:
  vendor, architecture, device, description   as the adapter reports them ("(empty)" if blank)
  fallback          whether it is a fallback adapter (a CPU implementation such as lavapipe)
  feature level     core, or compatibility (OpenGL ES)
  limits            those the compiler plans with: binding and buffer sizes, storage
                    buffers per kernel, workgroup memory and sizes, workgroups per dimension
  Kiln features     shader-f16, subgroups, timestamp-query: whether each is offered
  other features    everything else the adapter offers

When a backend finds no adapter, the messages Dawn, the Vulkan loader or EGL printed are
shown, with how to install a driver.

Last, the GPUs that \`kiln i2v --devices N\` and \`--gpus\` choose from, by PCI address, and
whether Mesa's device-select Vulkan layer, which tells identical GPUs apart, is installed.

Options:
  --json            Print the reports as JSON (one object per backend: backend, adapters,
                    messages, error).
  --backend NAME    Probe only this backend (vulkan or opengles).
  -h, --help        Show this help.

Exit status: 0 when at least one adapter was found, 1 when none was.

Examples:
  kiln devices
  kiln devices --json --backend vulkan`;

const FIX = [
  'To get an adapter:',
  '  Debian 12 without a GPU: apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1',
  '    (Mesa\'s lavapipe; add bookworm-backports to the apt sources first), or run scripts/setup.sh.',
  '  NVIDIA server: install the driver\'s Vulkan ICD and libvulkan1; if the loader does not find the',
  '    driver, export VK_DRIVER_FILES=/usr/share/vulkan/icd.d/nvidia_icd.json.',
];

const BYTE_LIMITS = new Set<string>(['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize']);

const show = (s: string): string => (s === '' ? '(empty)' : s);

function formatAdapter(a: AdapterFound, index: number): string[] {
  const info = a.adapter;
  const lines = [
    `  [${index}] ${a.name}`,
    `      vendor          ${show(info.vendor)}`,
    `      architecture    ${show(info.architecture)}`,
    `      device          ${show(info.device)}`,
    `      description     ${show(info.description)}`,
    `      fallback        ${info.isFallbackAdapter ? 'yes (a CPU implementation)' : 'no'}`,
    `      feature level   ${a.featureLevel}`,
    '      limits',
  ];
  const width = Math.max(...LIMIT_NAMES.map((n) => n.length));
  for (const name of LIMIT_NAMES) {
    const v = a.limits[name];
    const bytes = BYTE_LIMITS.has(name) && v >= 1024;
    lines.push(`        ${name.padEnd(width)}  ${v}${bytes ? ` (${formatBytes(v)})` : ''}`);
  }
  const wanted = new Set<string>(WANTED_FEATURES);
  lines.push(`      Kiln features   ${WANTED_FEATURES.map((f) => `${f} ${a.features.includes(f) ? 'yes' : 'no'}`).join(', ')}`);
  const others = a.features.filter((f) => !wanted.has(f));
  lines.push(`      other features  ${others.length ? others.join(', ') : '(none)'}`);
  return lines;
}

export function formatReports(reports: readonly BackendReport[]): string {
  const out: string[] = [];
  for (const r of reports) {
    const n = r.adapters.length;
    out.push(`${r.backend}: ${n === 0 ? 'no adapter' : n === 1 ? '1 adapter' : `${n} adapters`}`);
    r.adapters.forEach((a, i) => out.push(...formatAdapter(a, i)));
    if (r.error) out.push(`  probe failed: ${r.error}`);
    if (n === 0) {
      if (r.messages.length) out.push('  what Dawn and the drivers printed:', ...r.messages.map((m) => `    ${m}`));
      else out.push('  Dawn and the drivers printed nothing.');
    }
  }
  if (reports.every((r) => r.adapters.length === 0)) out.push('', ...FIX);
  return out.join('\n');
}

const VENDORS: Readonly<Record<number, string>> = { 0x10de: 'NVIDIA', 0x1002: 'AMD', 0x8086: 'Intel' };

/** The PCI GPUs several devices are chosen from (--devices, --gpus). */
export function formatPciGpus(gpus: readonly PciGpu[], layer: boolean): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  const out = [`GPUs for --devices/--gpus: ${gpus.length === 0 ? 'none listed under /sys/bus/pci (several devices share the default adapter)' : gpus.length}`];
  for (const g of gpus) out.push(`  ${g.address}  ${VENDORS[g.vendor] ?? 'vendor'} ${hex(g.vendor)}:${hex(g.device)}`);
  if (gpus.length > 1) {
    out.push(layer
      ? "  Mesa's device-select layer: installed (each device opens the GPU at its address)"
      : "  Mesa's device-select layer: missing: --devices 2 or more will ask for it (apt-get install mesa-vulkan-drivers)");
  }
  return out.join('\n');
}

export const devicesCommand: Command = {
  name: 'devices',
  summary: 'List the GPU adapters (per backend) with their limits and features',
  help: HELP,
  async run(argv) {
    let values: { json?: boolean; backend?: string };
    try {
      ({ values } = parseArgs({ args: [...argv], options: { json: { type: 'boolean' }, backend: { type: 'string' } }, allowPositionals: false }));
    } catch (err) {
      throw new UsageError(`${(err as Error).message}. Run \`kiln devices --help\` for the options.`);
    }
    let backends: Backend[] | undefined;
    if (values.backend !== undefined) {
      if (values.backend !== 'vulkan' && values.backend !== 'opengles') {
        throw new UsageError(`--backend must be vulkan or opengles, not '${values.backend}'.`);
      }
      backends = [values.backend];
    }
    const reports = await listAdapters(backends);
    console.log(values.json ? JSON.stringify(reports, null, 2) : `${formatReports(reports)}\n\n${formatPciGpus(pciGpus(), hasDeviceSelectLayer())}`);
    return reports.some((r) => r.adapters.length > 0) ? 0 : 1;
  },
};
