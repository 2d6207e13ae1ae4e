/**
 * `kiln devices` through the CLI entry point: the listing (text and JSON), usage errors, help,
 * and the report for a backend that finds nothing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../cli/main.ts';
import { formatPciGpus, formatReports } from '../../../cli/commands/devices.ts';
import { listAdapters } from '../../../runtime/device.ts';

const reports = await listAdapters();
const anyAdapter = reports.some((r) => r.adapters.length > 0);

function capture(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const text = (spy: typeof log): string => spy.mock.calls.map((c) => c.join(' ')).join('\n');
  return { out: () => text(log), err: () => text(error) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.skipIf(!anyAdapter)(anyAdapter ? 'kiln devices with an adapter' : 'kiln devices: skipped: no WebGPU adapter (run scripts/setup.sh)', () => {
  it('lists each backend with its adapters, limits and features, and exits 0', async () => {
    const io = capture();
    expect(await main(['devices'])).toBe(0);
    const out = io.out();
    expect(out).toMatch(/^vulkan: /m);
    expect(out).toMatch(/^opengles: /m);
    const found = reports.flatMap((r) => r.adapters);
    for (const a of found) expect(out).toContain(a.adapter.description || '(empty)');
    for (const word of ['vendor', 'architecture', 'description', 'fallback', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupsPerDimension', 'shader-f16', 'timestamp-query']) {
      expect(out).toContain(word);
    }
  });

  it('prints JSON with --json, limited to one backend with --backend', async () => {
    const io = capture();
    expect(await main(['devices', '--json', '--backend', 'vulkan'])).toBe(reports[0].adapters.length > 0 ? 0 : 1);
    const parsed = JSON.parse(io.out()) as { backend: string; adapters: { limits: Record<string, number> }[] }[];
    expect(parsed.map((r) => r.backend)).toEqual(['vulkan']);
    for (const a of parsed[0].adapters) expect(a.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });
});

describe('kiln devices usage', () => {
  it('rejects an unknown backend and unknown options with exit code 2', async () => {
    const io = capture();
    expect(await main(['devices', '--backend', 'metal'])).toBe(2);
    expect(io.err()).toMatch(/--backend must be vulkan or opengles/);
    expect(await main(['devices', '--frobnicate'])).toBe(2);
    expect(io.err()).toMatch(/kiln devices --help/);
  });

  it('has full help', async () => {
    const io = capture();
    expect(await main(['devices', '--help'])).toBe(0);
    expect(io.out()).toContain('Usage: kiln devices');
    expect(io.out()).toContain('--json');
    expect(io.out()).toContain('Exit status');
  });

  it('lists the PCI GPUs several devices are chosen from, and whether the device-select layer is there', () => {
    expect(formatPciGpus([], false)).toBe('GPUs for --devices/--gpus: none listed under /sys/bus/pci (several devices share the default adapter)');
    const two = [{ address: '0000:17:00.0', vendor: 0x10de, device: 0x2335 }, { address: '0000:2a:00.0', vendor: 0x10de, device: 0x2335 }];
    expect(formatPciGpus(two, false).split('\n')).toEqual([
      'GPUs for --devices/--gpus: 2', '  0000:17:00.0  NVIDIA 10de:2335', '  0000:2a:00.0  NVIDIA 10de:2335',
      "  Mesa's device-select layer: missing: --devices 2 or more will ask for it (apt-get install mesa-vulkan-drivers)",
    ]);
    expect(formatPciGpus(two, true)).toMatch(/device-select layer: installed/);
  });

  it('shows what the drivers printed, and the fix, when a backend finds nothing', () => {
    const text = formatReports([
      { backend: 'vulkan', adapters: [], messages: ['Warning: vkCreateInstance: Found no drivers!'] },
      { backend: 'opengles', adapters: [], messages: [], error: 'the probe timed out after 60 s' },
    ]);
    expect(text).toContain('vulkan: no adapter');
    expect(text).toContain('    Warning: vkCreateInstance: Found no drivers!');
    expect(text).toContain('probe failed: the probe timed out');
    expect(text).toContain('Dawn and the drivers printed nothing');
    expect(text).toContain('mesa-vulkan-drivers');
    expect(text).toContain('VK_DRIVER_FILES');
  });
});
