/**
 * GPUs by PCI address, for running one model on several of them (device_group.ts).
 *
 * Dawn's node binding picks an adapter by name only, and identical GPUs share a name. Mesa's
 * device-select layer (an implicit Vulkan layer, in Debian's mesa-vulkan-drivers; it works with
 * any Vulkan driver, NVIDIA's included) shows a Vulkan instance the one physical device named by
 * `DRI_PRIME=pci-DOMAIN_BUS_DEVICE_FUNCTION` when MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE is
 * set. It reads them when the instance enumerates its devices, so each GPU gets a Dawn instance
 * of its own, enumerated while the environment names it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface PciGpu {
  /** domain:bus:device.function, e.g. 0000:17:00.0 */
  readonly address: string;
  /** PCI vendor id, e.g. 0x10de (NVIDIA). */
  readonly vendor: number;
  readonly device: number;
}

const PCI_ADDRESS = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
/** Display controllers: VGA (0x0300) and 3D (0x0302, a data-centre GPU's class). */
const GPU_CLASSES = new Set([0x0300, 0x0302]);
/** Vendors with Vulkan drivers (NVIDIA, AMD, Intel); a server's BMC VGA (ASPEED, Matrox) has none. */
const GPU_VENDORS = new Set([0x10de, 0x1002, 0x8086]);

export function parsePciAddress(text: string): string {
  const m = PCI_ADDRESS.exec(text.trim());
  if (!m) throw new RangeError(`'${text}' is not a PCI address: expected domain:bus:device.function, e.g. 0000:17:00.0 (lspci -D or nvidia-smi lists them)`);
  return `${m[1]}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

/** The GPUs the kernel lists under /sys/bus/pci, in address order (nvidia-smi's order). */
export function pciGpus(root = '/sys/bus/pci/devices'): PciGpu[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  const read = (dir: string, file: string): number => Number.parseInt(readFileSync(join(root, dir, file), 'utf8').trim(), 16);
  const gpus: PciGpu[] = [];
  for (const address of entries.sort()) {
    if (!PCI_ADDRESS.test(address)) continue;
    try {
      const cls = read(address, 'class') >> 8;
      const vendor = read(address, 'vendor');
      if (GPU_CLASSES.has(cls) && GPU_VENDORS.has(vendor)) gpus.push({ address: address.toLowerCase(), vendor, device: read(address, 'device') });
    } catch {
      // A device without readable class or vendor files is not one we can use.
    }
  }
  return gpus;
}

const LAYER_MANIFEST = 'VkLayer_MESA_device_select.json';

/** Where the Vulkan loader looks for implicit layers (its default search path on Linux). */
function implicitLayerDirs(env: NodeJS.ProcessEnv): string[] {
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local/share');
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const extra = (env.VK_ADD_IMPLICIT_LAYER_PATH ?? '').split(':').filter(Boolean);
  // VK_ADD_IMPLICIT_LAYER_PATH names folders of manifests; the others are roots of vulkan/implicit_layer.d.
  return [...extra, ...[...configDirs, '/etc', dataHome, ...dataDirs].map((d) => join(d, 'vulkan/implicit_layer.d'))];
}

/** Whether the loader will find Mesa's device-select layer. */
export function hasDeviceSelectLayer(env: NodeJS.ProcessEnv = process.env): boolean {
  return implicitLayerDirs(env).some((d) => existsSync(join(d, LAYER_MANIFEST)));
}

/**
 * Sets the environment that makes the device-select layer show the next Vulkan instance the GPU
 * at `address` alone; returns what restores the environment as it was.
 */
export function selectPciDevice(address: string, env: NodeJS.ProcessEnv = process.env): () => void {
  const [domain, bus, device, fn] = parsePciAddress(address).split(/[:.]/);
  if (!hasDeviceSelectLayer(env)) {
    throw new Error(
      `choosing the GPU at ${address} needs Mesa's device-select Vulkan layer (${LAYER_MANIFEST}), which this machine does not have: ` +
        'install it with `apt-get install mesa-vulkan-drivers` (it selects devices for any Vulkan driver, NVIDIA\'s included)',
    );
  }
  const set: Record<string, string> = {
    DRI_PRIME: `pci-${domain}_${bus}_${device}_${fn}`,
    MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1',
  };
  const before = Object.fromEntries(Object.keys(set).map((k) => [k, env[k]]));
  Object.assign(env, set);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  };
}
