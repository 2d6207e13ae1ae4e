/**
 * WebGPU error scopes around a stretch of device calls: push one scope per error filter, run,
 * pop them all, and return what each caught. Errors inside scopes never reach the device's
 * uncaptured-error handler, so everything a program run does is checked here.
 */

export type ErrorFilter = 'validation' | 'out-of-memory' | 'internal';
const FILTERS: readonly ErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

export interface CaughtError {
  readonly filter: ErrorFilter;
  readonly message: string;
}

export function pushScopes(device: GPUDevice): void {
  for (const f of FILTERS) device.pushErrorScope(f);
}

/** Pops the scopes `pushScopes` pushed (innermost first) and waits for their results. */
export async function popScopes(device: GPUDevice): Promise<CaughtError[]> {
  const pending = [...FILTERS].reverse().map((filter) => device.popErrorScope().then((e) => (e ? { filter, message: e.message } : undefined)));
  return (await Promise.all(pending)).filter((e): e is CaughtError => e !== undefined);
}

/** Runs `fn` inside scopes; returns its result and what the scopes caught. */
export async function withScopes<T>(device: GPUDevice, fn: () => T | Promise<T>): Promise<{ value: T | undefined; errors: CaughtError[]; thrown?: unknown }> {
  pushScopes(device);
  let value: T | undefined;
  let thrown: unknown;
  try {
    value = await fn();
  } catch (err) {
    thrown = err;
  }
  const errors = await popScopes(device);
  return thrown === undefined ? { value, errors } : { value, errors, thrown };
}
