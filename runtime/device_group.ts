/**
 * Several devices in this thread for one model (SequenceParallelDit): one per GPU, picked by PCI
 * address (gpu/pci.ts); for one device, or on a machine that lists no PCI GPU (a CPU adapter
 * such as lavapipe), devices that share the default adapter: the same results, for trying the
 * path, but no faster. (WorkerSequenceParallelDit opens its devices in worker threads, with the
 * same plan.)
 */
import { openDevice, type AcquireOptions, type KilnDevice } from './device.ts';
import { parsePciAddress, pciGpus, type PciGpu } from './gpu/pci.ts';

export interface DeviceGroup {
  readonly devices: readonly KilnDevice[];
  /** The PCI address of each device's GPU; undefined where the devices share the default adapter. */
  readonly addresses: readonly string[] | undefined;
  /** Destroys every device of the group. */
  release(): void;
}

export interface DeviceGroupOptions extends Omit<AcquireOptions, 'adapterIndex' | 'pciAddress'> {
  /** The GPUs to use, by PCI address; default: the first `count` GPUs in address order. */
  readonly pciAddresses?: readonly string[];
  /** The GPUs the machine has (default: listed from /sys/bus/pci). */
  readonly gpus?: readonly PciGpu[];
}

/** Which GPUs `count` devices go on: explicit addresses, else the machine's first `count`, else none (shared adapter). */
export function planDeviceGroup(count: number, gpus: readonly PciGpu[], pciAddresses?: readonly string[]): string[] | undefined {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`a device group needs a whole number of devices, not ${count}`);
  if (pciAddresses) {
    const chosen = pciAddresses.map(parsePciAddress);
    if (chosen.length !== count) throw new RangeError(`${count} devices asked for, but ${chosen.length} PCI addresses given`);
    if (new Set(chosen).size !== chosen.length) throw new RangeError(`the PCI addresses ${chosen.join(', ')} name a GPU twice`);
    return chosen;
  }
  // One device, or a machine without PCI GPUs (a CPU adapter): the default adapter, no layer needed.
  if (count === 1 || gpus.length === 0) return undefined;
  if (gpus.length < count) {
    throw new RangeError(`${count} devices asked for, but this machine has ${gpus.length} GPU(s) (${gpus.map((g) => g.address).join(', ')}); ask for at most ${gpus.length}`);
  }
  return gpus.slice(0, count).map((g) => g.address);
}

/** Opens `count` devices (see the file's comment); on failure, those already opened are destroyed. */
export async function openDeviceGroup(count: number, opts: DeviceGroupOptions = {}): Promise<DeviceGroup> {
  const addresses = planDeviceGroup(count, opts.gpus ?? pciGpus(), opts.pciAddresses);
  const devices: KilnDevice[] = [];
  try {
    for (let i = 0; i < count; i++) devices.push(await openDevice({ ...opts, pciAddress: addresses?.[i] }));
  } catch (err) {
    for (const d of devices) d.destroy();
    throw err;
  }
  return { devices, addresses, release: () => devices.forEach((d) => d.destroy()) };
}
