/**
 * How a golden case's upstream class is run in Kiln: an adapter per upstream class name maps
 * the constructor config to a Kiln module's config and each recorded call to Kiln calls,
 * returning the produced outputs by their golden names (without the `output.` prefix).
 */
import type { KilnDevice } from '../../runtime/device.ts';
import type { BackendName, SessionOptions } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import type { GoldenCall, GoldenCase } from './case.ts';

export interface GoldenContext {
  readonly backend: BackendName;
  readonly device?: KilnDevice;
  readonly session: SessionOptions;
  /** Run the transformer by sequence parallelism over these sessions, one per device (`kiln golden --devices`). */
  readonly parallel?: readonly SessionOptions[];
  /** Progress notes (one line each). */
  readonly log: (line: string) => void;
}

export interface GoldenAdapter {
  /** Upstream class (or function) names this adapter runs. */
  readonly classNames: readonly string[];
  run(c: GoldenCase, ctx: GoldenContext): Promise<Map<string, HostTensor>>;
}

export class UnsupportedGoldenError extends Error {
  readonly userFacing = true;
  override name = 'UnsupportedGoldenError';
}

/**
 * A case's config read by `read`; the model's own config errors (`kind`) mean the case asks for
 * something Kiln does not build, so they become UnsupportedGoldenError.
 */
export function configOrUnsupported<T>(read: () => T, kind: new (...args: never[]) => Error): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof kind) throw new UnsupportedGoldenError(err.message);
    throw err;
  }
}

/** Output names a call's `returns` text mentions: `output.name` tokens, and `output.prefix*` prefixes. */
export function returnedOutputs(call: GoldenCall): { names: string[]; prefixes: string[] } {
  const names: string[] = [];
  const prefixes: string[] = [];
  for (const text of [call.returns, call.aux].filter((s): s is string => typeof s === 'string')) {
    for (const m of text.matchAll(/output\.([A-Za-z0-9_]+)(\*)?/g)) {
      if (m[2]) prefixes.push(m[1]);
      else names.push(m[1]);
    }
  }
  return { names, prefixes };
}

/** The golden input tensors a call passes positionally (`input.x` → tensor). */
export function callInputs(c: GoldenCase, call: GoldenCall): HostTensor[] {
  return (call.args ?? []).map((a) => {
    if (!a.startsWith('input.')) throw new UnsupportedGoldenError(`${c.path}: call argument '${a}' is not an input tensor`);
    return c.tensor(a);
  });
}
