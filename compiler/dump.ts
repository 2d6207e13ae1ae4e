/**
 * Dumping a compiled program for reading and debugging (`--dump-wgsl DIR`): one
 * `NN_name.wgsl` file per kernel, in run order, each starting with the comment header that
 * names its source ops, and an `index.txt` listing the kernel order, dispatch sizes, bindings
 * (tensor names and shapes) and the memory plan. Files are written under temporary names and
 * renamed when complete, so a failed dump never leaves half-written files.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompiledProgram, TensorInfo } from './kernel.ts';
import { formatBytes } from './passes/errors.ts';

const describeTensor = (t: TensorInfo): string => `t${t.id} ${t.role} ${JSON.stringify(t.name)} ${t.dtype}[${t.shape.join(', ')}]`;

/** The file name of kernel `index`: its position and its name without the `kNN_` prefix. */
export function kernelFileName(program: CompiledProgram, index: number): string {
  const width = Math.max(2, String(program.kernels.length - 1).length);
  const name = program.kernels[index].name.replace(/^k\d+_/, '').replace(/[^A-Za-z0-9_.-]+/g, '_');
  return `${String(index).padStart(width, '0')}_${name}.wgsl`;
}

/** A readable listing of the program: plan, tensors, kernels with their bindings. */
export function formatProgram(program: CompiledProgram): string {
  const { plan } = program;
  const lines: string[] = [];
  lines.push(`Kiln program: ${program.kernels.length} kernels, ${program.tensors.length} tensors`);
  lines.push(`memory plan: peak ${formatBytes(plan.peakBytes)} = inputs ${formatBytes(plan.inputBytes)} + weights ${formatBytes(plan.weightBytes)} + arenas ${formatBytes(plan.arenaBytes)} [${plan.arenas.map(formatBytes).join(', ')}]`);
  lines.push('', 'tensors:');
  for (const t of program.tensors) {
    const p = plan.placements.get(t.id);
    lines.push(`  ${describeTensor(t)} ${formatBytes(t.bytes)}${p ? ` @ arena ${p.arena} + ${p.offset}` : ''}`);
  }
  lines.push('', 'kernels:');
  program.kernels.forEach((k, i) => {
    lines.push(`  ${kernelFileName(program, i)}  ${k.name}  ${k.kind}  workgroups [${k.workgroups.join(', ')}]  flops ${k.flops}  bytes ${k.bytes}`);
    k.bindings.forEach((b, j) => lines.push(`    binding ${j} ${b.access.padEnd(10)} ${describeTensor(program.tensors[b.tensor])}`));
    for (const s of k.sourceOps) lines.push(`    source ${s}`);
  });
  return `${lines.join('\n')}\n`;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes every kernel's WGSL and an index.txt into `dir` (created if needed). */
export async function dumpWgsl(program: CompiledProgram, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (let i = 0; i < program.kernels.length; i++) {
    const path = join(dir, kernelFileName(program, i));
    await writeAtomically(path, program.kernels[i].wgsl);
    written.push(path);
  }
  const index = join(dir, 'index.txt');
  await writeAtomically(index, formatProgram(program));
  written.push(index);
  return written;
}
