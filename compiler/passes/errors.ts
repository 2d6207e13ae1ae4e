/**
 * CompileError: a program that cannot be compiled for this target for a reason the user can
 * act on (a tensor too large for the device, too many tensors in one kernel). The message is
 * complete on its own: what, where (the node's source op, module path and location), the
 * limit, and what to do about it. `describeOrigin` formats a node's origin for such messages.
 */
import type { Node } from '../ir.ts';

export class CompileError extends Error {
  override name = 'CompileError';
  readonly userFacing = true;
}

/** `op @ path (loc)`, the form kernel headers and errors use. */
export function describeOrigin(n: Node): string {
  const o = n.origin;
  const path = o.path ? ` @ ${o.path}` : '';
  const loc = o.loc ? ` (${o.loc})` : '';
  return `${o.op}${path}${loc}`;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
