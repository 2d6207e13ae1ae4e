/**
 * Whether this machine has a WebGPU adapter, decided once per test file by trying to open the
 * device. GPU test files skip (with a name that says why) only when it has none; CI installs
 * lavapipe, so there they always run. KILN_TEST_BACKEND=opengles runs them on the fallback.
 */
import { acquireDevice, NoAdapterError, type KilnDevice } from '../../runtime/device.ts';

export const NO_ADAPTER = 'skipped: no WebGPU adapter (run scripts/setup.sh)';

/** The device, or undefined when no adapter exists (any other failure is thrown). */
export async function deviceOrUndefined(): Promise<KilnDevice | undefined> {
  try {
    const backend = process.env.KILN_TEST_BACKEND;
    return await acquireDevice(backend === 'vulkan' || backend === 'opengles' ? { backend } : {});
  } catch (err) {
    if (err instanceof NoAdapterError) return undefined;
    throw err;
  }
}
