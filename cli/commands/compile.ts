/**
 * `kiln compile FILE --entry NAME ...`: compile an entry without running it. With `--shapes`
 * the entry is traced for those input shapes and compiled to WGSL kernels (for WebGPU's
 * guaranteed limits, so no GPU is needed), and the kernel count and memory plan are printed
 * (`--dump-wgsl` writes the kernels, `--check-shaders` has Dawn compile them). With `--emit-ts` a typed TypeScript module is written for
 * the entry's functions (compiler/bindings/emit_ts.ts); that needs no shapes.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeTextFileAtomically } from '../../runtime/weights/atomic_file.ts';
import { UsageError, type Command } from '../command.ts';
import { entryOwner, entrySignature, sourceFiles, traceArguments, openEntry, ENTRY_OPTIONS } from './entry_options.ts';
import { bindModule } from '../../compiler/bind.ts';
import { compile } from '../../compiler/compile.ts';
import { dumpWgsl } from '../../compiler/dump.ts';
import type { CompiledProgram } from '../../compiler/kernel.ts';
import { formatBytes } from '../../compiler/passes/errors.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import { shaderChecker } from '../../runtime/gpu/shader-check.ts';

const HELP = `Usage: kiln compile FILE... --entry NAME [--shapes NAME=[...]...] [--emit-ts OUT.ts] [options]

Compiles a Kiln entry without running it.

NAME is Module.fn, Module (its forward; --emit-ts then binds every function of the module) or a
free function declared in FILE (or a file it imports).

Options:
  --entry NAME             The entry (required).
  --config CFG.json        The module's config: a JSON object of its parameters.
  --set KEY=VALUE          One config parameter (a JSON value; repeatable; overrides --config).
  --shapes NAME=[1,3,9,32,32]
                           The shape of tensor parameter NAME (repeatable). With shapes, the entry
                           is traced and compiled to WGSL kernels for WebGPU's guaranteed limits,
                           and the kernel count and memory plan are printed.
  --arg NAME=VALUE         A non-tensor parameter, for tracing (JSON).
  --dump-wgsl DIR          Write the kernels and an index under DIR (needs --shapes).
  --no-fuse                One kernel per IR op.
  --device                 Compile for this machine's GPU adapter (its real limits: bindings per
                           kernel, workgroup memory, ...) instead of WebGPU's guaranteed minimums.
  --check-shaders          Also compile every kernel with Dawn's shader compiler (its null backend:
                           WGSL and pipeline validation, no GPU needed, nothing runs) and print
                           what it reports; exit 1 when a kernel does not compile.
  --emit-ts OUT.ts         Write typed TypeScript bindings for the entry: input and output
                           interfaces (names, dtypes, shape tuples), the config type, the weight
                           key union and a typed load(). Needs no shapes.
  -h, --help               Show this help.

Examples:
  kiln compile examples/gelu_mlp.kiln --entry GeluMLP --config examples/gelu_mlp.json --shapes x=[2,5,8]
  kiln compile examples/gelu_mlp.kiln --entry GeluMLP --config examples/gelu_mlp.json --emit-ts gelu_mlp.bindings.ts`;

interface CompileArgs {
  readonly files: string[];
  readonly entry?: string;
  readonly config?: string;
  readonly set: string[];
  readonly shapes: string[];
  readonly args: string[];
  readonly dumpWgsl?: string;
  readonly fuse: boolean;
  readonly emitTs?: string;
  readonly device: boolean;
  readonly checkShaders: boolean;
}

function parse(argv: readonly string[]): CompileArgs {
  const parsed = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...ENTRY_OPTIONS,
      shapes: { type: 'string', multiple: true, default: [] },
      'dump-wgsl': { type: 'string' },
      'no-fuse': { type: 'boolean', default: false },
      device: { type: 'boolean', default: false },
      'check-shaders': { type: 'boolean', default: false },
      'emit-ts': { type: 'string' },
    },
  });
  const v = parsed.values;
  if (!v.shapes.length && v['emit-ts'] === undefined) {
    throw new UsageError('nothing to do: give --shapes NAME=[...] to compile kernels, or --emit-ts OUT.ts to write bindings (or both)');
  }
  if (v['dump-wgsl'] !== undefined && !v.shapes.length) throw new UsageError('--dump-wgsl needs --shapes: kernels are generated for concrete shapes');
  if (v['check-shaders'] && !v.shapes.length) throw new UsageError('--check-shaders needs --shapes: kernels are generated for concrete shapes');
  if (v['emit-ts'] !== undefined && !v['emit-ts'].endsWith('.ts')) throw new UsageError(`--emit-ts ${v['emit-ts']} must name a .ts file`);
  const files = sourceFiles('compile', parsed.positionals);
  return {
    files, entry: v.entry, config: v.config, set: v.set, shapes: v.shapes, args: v.arg, dumpWgsl: v['dump-wgsl'], fuse: !v['no-fuse'], emitTs: v['emit-ts'], device: v.device, checkShaders: v['check-shaders'],
  };
}

export const compileCommand: Command = {
  name: 'compile',
  summary: 'Compile a Kiln entry to WGSL kernels and/or typed TypeScript bindings',
  help: HELP,
  async run(argv) {
    const args = parse(argv);
    try {
      return await compileEntry(args, argv);
    } finally {
      if (args.device) await releaseDevice();
    }
  },
};

/** Compile (and/or emit bindings for) the entry the arguments name. */
async function compileEntry(args: CompileArgs, argv: readonly string[]): Promise<number> {
  const { entry, config } = openEntry('compile', args);
  const bound = bindModule(entry.program, entry.moduleName, config);
  const owner = entryOwner(entry);

  if (args.shapes.length) {
    const sig = entrySignature(entry, bound.instance);
    const callArgs = traceArguments(sig, args, owner);
    const t0 = performance.now();
    const graph = bound.trace({ fn: sig.name, args: callArgs });
    const target = args.device ? await deviceTarget() : DEFAULT_TARGET;
    const compiled = compile(graph, target, { fuse: args.fuse, name: owner });
    console.log(`${owner}(${callArgs.map((a, i) => `${sig.params[i].name}: ${a.kind === 'tensor' ? `${a.dtype}[${a.shape.join(', ')}]` : JSON.stringify(a.value)}`).join(', ')})`);
    console.log(`compiled for ${args.device ? `this adapter (${target.adapter.description || target.adapter.vendor})` : "WebGPU's default limits"} in ${(performance.now() - t0).toFixed(0)} ms: ${describeKernels(compiled)}`);
    const plan = compiled.plan;
    console.log(`planned peak memory: ${formatBytes(plan.peakBytes)} (inputs ${formatBytes(plan.inputBytes)}, weights ${formatBytes(plan.weightBytes)}, intermediates and outputs ${formatBytes(plan.arenaBytes)})`);
    for (const id of compiled.outputs) {
      const t = compiled.tensors[id];
      console.log(`  output ${t.name}: ${t.dtype}[${t.shape.join(', ')}]`);
    }
    if (args.dumpWgsl) {
      const written = await dumpWgsl(compiled, args.dumpWgsl);
      console.log(`wrote ${written.length - 1} kernel${written.length === 2 ? '' : 's'} and index.txt under ${args.dumpWgsl}`);
    }
    if (args.checkShaders && !(await checkShaders(compiled))) return 1;
  }

  if (args.emitTs !== undefined) {
    // Loaded on demand: the TypeScript compiler takes a moment to load, and only this option needs it.
    const { emitBindings } = await import('../../compiler/bindings/emit_ts.ts');
    const outFile = resolve(args.emitTs);
    const emitted = emitBindings({
      entry, config, instance: bound.instance, weights: bound.weights, sources: args.files, outFile,
      generatedBy: `kiln compile ${argv.join(' ')}`,
    });
    mkdirSync(dirname(outFile), { recursive: true });
    writeTextFileAtomically(outFile, emitted.text);
    console.log(`wrote bindings ${args.emitTs} (${emitted.functions.join(', ')}${entry.kind === 'module' ? `; ${bound.weights.length} weight keys` : ''})`);
    for (const s of emitted.skipped) console.log(`  not bound: ${s.name} (${s.reason})`);
  }
  return 0;
}

/** Compiles each kernel with Dawn (null backend); prints what it says. False when one has errors. */
async function checkShaders(p: CompiledProgram): Promise<boolean> {
  const checker = await shaderChecker();
  let failed = 0;
  let warned = 0;
  for (const k of p.kernels) {
    const found = await checker.check(k.wgsl);
    if (found.some((d) => d.severity === 'error')) failed++;
    else if (found.length) warned++;
    for (const d of found) {
      const line = d.line ? `, line ${d.line} (${k.wgsl.split('\n')[d.line - 1]?.trim() ?? ''})` : '';
      const report = `kernel ${k.name}${line}: ${d.severity}: ${d.message.split('\n')[0]}`;
      if (d.severity === 'error') console.error(report); else console.log(report);
    }
  }
  const n = p.kernels.length;
  const summary = `checked ${n} kernel${n === 1 ? '' : 's'} with Dawn's shader compiler (null backend): ${failed ? `${failed} with errors` : 'all compile'}${warned ? `, ${warned} with warnings` : ''}`;
  if (failed) console.error(summary); else console.log(summary);
  return failed === 0;
}

function describeKernels(p: CompiledProgram): string {
  const kinds = new Map<string, number>();
  for (const k of p.kernels) kinds.set(k.kind, (kinds.get(k.kind) ?? 0) + 1);
  const n = p.kernels.length;
  return `${n} kernel${n === 1 ? '' : 's'} (${[...kinds].map(([k, c]) => `${c} ${k}`).join(', ')})`;
}

/** The Target of this machine's adapter (the process's one device; released when the command ends). */
async function deviceTarget(): Promise<Target> {
  return (await acquireDevice()).target;
}
