/**
 * Choosing GPUs by PCI address (runtime/gpu/pci.ts, runtime/device_group.ts): the GPUs listed
 * from a sysfs tree made here (display and 3D controllers of GPU vendors, not a server's BMC),
 * addresses checked, the device-select layer's environment set and restored, and which GPUs a
 * group of devices goes on.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasDeviceSelectLayer, parsePciAddress, pciGpus, selectPciDevice } from '../../../runtime/gpu/pci.ts';
import { planDeviceGroup } from '../../../runtime/device_group.ts';

const root = mkdtempSync(join(tmpdir(), 'kiln-pci-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function pciDevice(address: string, vendor: string, cls: string, device = '0x2335'): void {
  mkdirSync(join(root, 'devices', address), { recursive: true });
  writeFileSync(join(root, 'devices', address, 'vendor'), `${vendor}\n`);
  writeFileSync(join(root, 'devices', address, 'class'), `${cls}\n`);
  writeFileSync(join(root, 'devices', address, 'device'), `${device}\n`);
}

describe('PCI GPUs', () => {
  it('lists display and 3D controllers of GPU vendors in address order', () => {
    pciDevice('0000:2a:00.0', '0x10de', '0x030200');
    pciDevice('0000:17:00.0', '0x10de', '0x030200');
    pciDevice('0000:03:00.0', '0x1a03', '0x030000'); // ASPEED BMC VGA: no Vulkan driver
    pciDevice('0000:00:1f.2', '0x8086', '0x010601'); // a SATA controller
    pciDevice('0000:c1:00.0', '0x1002', '0x030000');
    expect(pciGpus(join(root, 'devices')).map((g) => [g.address, g.vendor.toString(16)])).toEqual([
      ['0000:17:00.0', '10de'], ['0000:2a:00.0', '10de'], ['0000:c1:00.0', '1002'],
    ]);
    expect(pciGpus(join(root, 'no-such-folder'))).toEqual([]);
  });

  it('checks addresses', () => {
    expect(parsePciAddress(' 0000:17:00.0 ')).toBe('0000:17:00.0');
    expect(parsePciAddress('0000:AB:1F.7')).toBe('0000:ab:1f.7');
    expect(() => parsePciAddress('17:00.0')).toThrow(/not a PCI address: expected domain:bus:device.function/);
  });

  it('names the GPU to the device-select layer, and restores the environment', () => {
    const layers = join(root, 'layers');
    mkdirSync(layers, { recursive: true });
    const env: NodeJS.ProcessEnv = { VK_ADD_IMPLICIT_LAYER_PATH: layers, DRI_PRIME: '1', XDG_DATA_DIRS: root, XDG_CONFIG_DIRS: root, XDG_DATA_HOME: root };
    expect(hasDeviceSelectLayer(env)).toBe(false);
    expect(() => selectPciDevice('0000:17:00.0', env)).toThrow(/needs Mesa's device-select Vulkan layer .*apt-get install mesa-vulkan-drivers/);
    writeFileSync(join(layers, 'VkLayer_MESA_device_select.json'), '{}');
    const restore = selectPciDevice('0000:17:00.0', env);
    expect(env).toMatchObject({ DRI_PRIME: 'pci-0000_17_00_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' });
    restore();
    expect(env.DRI_PRIME).toBe('1');
    expect('MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE' in env).toBe(false);
  });
});

describe('planDeviceGroup', () => {
  const gpus = ['0000:17:00.0', '0000:2a:00.0', '0000:3d:00.0'].map((address) => ({ address, vendor: 0x10de, device: 0x2335 }));
  it('takes the first GPUs, or those named', () => {
    expect(planDeviceGroup(2, gpus)).toEqual(['0000:17:00.0', '0000:2a:00.0']);
    expect(planDeviceGroup(2, gpus, ['0000:3d:00.0', '0000:17:00.0'])).toEqual(['0000:3d:00.0', '0000:17:00.0']);
  });
  it('shares the default adapter for one device, or where no GPU is listed', () => {
    expect(planDeviceGroup(1, gpus)).toBeUndefined();
    expect(planDeviceGroup(4, [])).toBeUndefined();
  });
  it('says what is wrong', () => {
    expect(() => planDeviceGroup(4, gpus)).toThrow(/4 devices asked for, but this machine has 3 GPU\(s\)/);
    expect(() => planDeviceGroup(2, gpus, ['0000:17:00.0', '0000:17:00.0'])).toThrow(/name a GPU twice/);
    expect(() => planDeviceGroup(0, gpus)).toThrow(/whole number of devices/);
  });
});
