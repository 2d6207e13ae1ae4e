/**
 * Building KernelErrors: messages that name the kernel, the source ops it implements, the
 * WGSL line a compiler message points at, and what to do next.
 */
import type { Kernel } from '../../compiler/kernel.ts';
import { KernelError, type KernelFailure } from './errors.ts';

const MAX_OPS_LISTED = 8;

/** The kernel's source ops as an indented list (long lists are cut, saying how many more). */
export function formatSourceOps(ops: readonly string[]): string {
  if (ops.length === 0) return '  source ops: (none recorded)';
  const shown = ops.slice(0, MAX_OPS_LISTED).map((o) => `    ${o}`);
  if (ops.length > MAX_OPS_LISTED) shown.push(`    ... and ${ops.length - MAX_OPS_LISTED} more`);
  return ['  source ops:', ...shown].join('\n');
}

/** The WGSL source around `line` (1-based), numbered, with the line itself marked. */
export function wgslExcerpt(wgsl: string, line: number, context = 1): string {
  const lines = wgsl.split('\n');
  const out: string[] = [];
  for (let i = Math.max(1, line - context); i <= Math.min(lines.length, line + context); i++) {
    out.push(`  ${i === line ? '>' : ' '} ${String(i).padStart(4)} | ${lines[i - 1]}`);
  }
  return out.join('\n');
}

const ADVICE: Record<KernelFailure, string> = {
  compilation: 'This is a bug in the code generator: dump the kernels with --dump-wgsl and report it with this message.',
  validation: 'This is a bug in the code generator or the memory plan: dump the kernels with --dump-wgsl and report it with this message.',
  internal: 'The driver failed internally; try again, or update the GPU driver. If it persists, report it with --dump-wgsl output.',
  'out-of-memory': 'The GPU ran out of memory: use tiling to run smaller pieces (e.g. `kiln vae decode --tile`) or a smaller input.',
};

export interface CompilerMessage {
  readonly message: string;
  readonly lineNum: number;
  readonly linePos: number;
}

/** A KernelError for `kernel`; `detail` is the driver's message, `messages` its WGSL diagnostics. */
export function kernelError(
  kernel: Pick<Kernel, 'name' | 'sourceOps' | 'wgsl'>,
  failure: KernelFailure,
  detail: string,
  messages: readonly CompilerMessage[] = [],
): KernelError {
  const what = failure === 'compilation' ? 'failed to compile' : failure === 'out-of-memory' ? 'ran out of memory' : `failed ${failure}`;
  const parts = [`Kernel '${kernel.name}' ${what}.`];
  const first = messages.find((m) => m.lineNum > 0);
  for (const m of messages) parts.push(`  WGSL ${m.lineNum > 0 ? `line ${m.lineNum}:${m.linePos}` : '(no line)'}: ${m.message}`);
  if (first) parts.push(wgslExcerpt(kernel.wgsl, first.lineNum));
  if (detail && messages.length === 0) parts.push(indent(detail.trim()));
  parts.push(formatSourceOps(kernel.sourceOps), ADVICE[failure]);
  return new KernelError(parts.join('\n'), { kernel: kernel.name, sourceOps: kernel.sourceOps, failure, wgslLine: first?.lineNum });
}

/** A KernelError that could not be pinned on one kernel of the program. */
export function programError(kernels: readonly Pick<Kernel, 'name'>[], failure: KernelFailure, detail: string): KernelError {
  const names = kernels.map((k) => k.name);
  const listed = names.length > 6 ? `${names.slice(0, 6).join(', ')}, ... (${names.length} kernels)` : names.join(', ');
  const msg = [`Running the program failed (${failure}); the driver's message names no single kernel. Kernels: ${listed}.`, indent(detail.trim()), ADVICE[failure]].join('\n');
  return new KernelError(msg, { kernel: undefined, sourceOps: [], failure });
}

const indent = (s: string): string => s.split('\n').map((l) => `  ${l}`).join('\n');
