/**
 * `kiln run FILE --entry NAME ...`: run one Kiln entry (a module's function or a free function)
 * once, on tensors read from safetensors (or any checkpoint) files, and write every output to
 * one safetensors file. Prints the planned peak memory before the run and, with `--profile`,
 * the per-kernel GPU times.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { entryOwner, entrySignature, parseValue, sourceFiles, splitAssignment, openEntry, ENTRY_OPTIONS } from './entry_options.ts';
import { WeightBindingError } from '../../compiler/bind.ts';
import { BindingInputError } from '../../compiler/bindings/errors.ts';
import { describeParams, formatSigType, orderArguments, shapeProblem, type FunctionSig, type TensorParam } from '../../compiler/bindings/signature.ts';
import { compile, CompileError } from '../../compiler/compile.ts';
import { dumpWgsl } from '../../compiler/dump.ts';
import type { CompiledProgram, MemoryPlan } from '../../compiler/kernel.ts';
import { formatBytes } from '../../compiler/passes/errors.ts';
import { DEFAULT_TARGET } from '../../compiler/target.ts';
import type { DTypeName } from '../../dsl/ast.ts';
import { acquireDevice, releaseDevice, type KilnDevice } from '../../runtime/device.ts';
import { formatProfile } from '../../runtime/executor.ts';
import { ModelSession, weightsFromMap, type BackendName, type CallInput, type SessionWeights } from '../../runtime/model.ts';
import { fromFloat64, toFloat64, type HostTensor, type StorageDType } from '../../runtime/tensor.ts';
import { loadWeights, type WeightSource } from '../../runtime/weights/checkpoint.ts';
import { writeSafetensors } from '../../runtime/weights/safetensors.ts';

const HELP = `Usage: kiln run FILE... --entry NAME --out OUT.safetensors [options]

Runs one Kiln function once and writes its outputs to a safetensors file.

NAME is Module.fn, Module (its forward) or a free function declared in FILE (or a file it imports).

Options:
  --entry NAME                The function to run (required).
  --config CFG.json           The module's config: a JSON object of its parameters.
  --set KEY=VALUE             One config parameter (a JSON value; repeatable; overrides --config).
  --weights W                 The module's weights: a .safetensors file, a shard index, a PyTorch
                              checkpoint or a model folder. Required when the module has weights.
  --allow-unexpected          Accept checkpoint keys the module does not use.
  --in NAME=FILE[:KEY]        The tensor for parameter NAME (repeatable): the tensor named NAME in
                              FILE, else FILE's only tensor, or the tensor KEY.
  --arg NAME=VALUE            A non-tensor parameter (an int, float, bool, string or list; JSON).
  --out OUT.safetensors       Where to write every output, by name (required; written atomically).
  --backend webgpu|interp     webgpu (default): fused WGSL kernels on the GPU (Dawn).
                              interp: the float64 reference interpreter on the CPU.
  --dtype f32|f16             Storage dtype of weights and activations on the GPU (webgpu; default
                              f32). f16 halves memory and bandwidth, keeps f32 arithmetic and f32
                              inputs and outputs, and needs the adapter's shader-f16.
  --profile                   Print each kernel's GPU time (webgpu).
  --dump-wgsl DIR             Write the generated kernels and an index under DIR.
  --no-fuse                   One kernel per IR op (for debugging fusion).
  -h, --help                  Show this help.

Before the run it prints the planned peak GPU memory (with interp: of the program compiled for
WebGPU's default limits).

Examples:
  kiln run examples/gelu_mlp.kiln --entry GeluMLP --config examples/gelu_mlp.json \\
      --weights mlp.safetensors --in x=x.safetensors --out y.safetensors --profile
  kiln run examples/gelu_mlp.kiln --entry scaled_gelu --in x=x.safetensors --arg scale=0.5 --out y.safetensors`;

interface RunArgs {
  readonly files: string[];
  readonly entry?: string;
  readonly config?: string;
  readonly set: string[];
  readonly weights?: string;
  readonly allowUnexpected: boolean;
  readonly inputs: string[];
  readonly args: string[];
  readonly out: string;
  /** --out as given, for messages. */
  readonly outText: string;
  readonly backend: BackendName;
  readonly dtype: 'f32' | 'f16';
  readonly profile: boolean;
  readonly dumpWgsl?: string;
  readonly fuse: boolean;
}

function parse(argv: readonly string[]): RunArgs {
  const parsed = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...ENTRY_OPTIONS,
      weights: { type: 'string' },
      'allow-unexpected': { type: 'boolean', default: false },
      in: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      backend: { type: 'string', default: 'webgpu' },
      dtype: { type: 'string', default: 'f32' },
      profile: { type: 'boolean', default: false },
      'dump-wgsl': { type: 'string' },
      'no-fuse': { type: 'boolean', default: false },
    },
  });
  const v = parsed.values;
  const backend = v.backend as BackendName;
  if (backend !== 'webgpu' && backend !== 'interp') throw new UsageError(`--backend must be webgpu or interp, not '${v.backend}'`);
  if (v.profile && backend !== 'webgpu') throw new UsageError('--profile measures GPU kernels: it needs --backend webgpu');
  if (v.dtype !== 'f32' && v.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, not '${v.dtype}'`);
  if (v.dtype === 'f16' && backend !== 'webgpu') throw new UsageError('--dtype f16 chooses how tensors are stored on the GPU, so it needs --backend webgpu');
  if (!v.out) throw new UsageError('--out OUT.safetensors is required: the file every output is written to');
  if (!v.out.endsWith('.safetensors')) throw new UsageError(`--out ${v.out} must be a .safetensors file`);
  const outDir = dirname(resolve(v.out));
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) throw new UsageError(`--out ${v.out}: the folder ${outDir} does not exist`);
  const files = sourceFiles('run', parsed.positionals);
  return {
    files, entry: v.entry, config: v.config, set: v.set, weights: v.weights, allowUnexpected: v['allow-unexpected'],
    inputs: v.in, args: v.arg, out: resolve(v.out), outText: v.out, backend, dtype: v.dtype, profile: v.profile, dumpWgsl: v['dump-wgsl'], fuse: !v['no-fuse'],
  };
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run a Kiln module function or free function once on tensors from files',
  help: HELP,
  async run(argv) {
    const args = parse(argv);
    const { entry, config } = openEntry('run', args);
    if (entry.kind === 'function' && args.weights) throw new UsageError(`${entry.name} is a free function: it has no weights; drop --weights.`);

    const opened: WeightSource | undefined = args.weights ? loadWeights(args.weights) : undefined;
    let device: KilnDevice | undefined;
    try {
      const weights: SessionWeights = opened ?? weightsFromMap(new Map(), '<no weights>');
      if (args.backend === 'webgpu') device = await acquireDevice();
      const session = openSession(entry.program, entry.moduleName, config, weights, args, device, entry.name);
      const sig = entrySignature(entry, session.bound.instance);
      const owner = entryOwner(entry);
      const origins = new Map<string, string>();
      const callArgs = callArguments(sig, args, owner, origins);
      console.log(`kiln run: ${owner} on ${args.backend}${device ? ` (${device.describe()})` : ''}`);
      return await runOnce(session, sig, callArgs, args, owner, device, origins);
    } finally {
      opened?.close();
      if (device) await releaseDevice();
    }
  },
};

function openSession(
  program: ModelSession['program'], moduleName: string, config: Record<string, unknown>, weights: SessionWeights, args: RunArgs,
  device: KilnDevice | undefined, entryName: string,
): ModelSession {
  try {
    return new ModelSession(program, moduleName, config, weights, { backend: args.backend, device, fuse: args.fuse, allowUnexpected: args.allowUnexpected, dtype: args.dtype });
  } catch (err) {
    if (!args.weights && err instanceof WeightBindingError && err.missing.length) {
      throw new UsageError(`${entryName} has ${err.missing.length} weight tensors (${err.missing.slice(0, 3).map((w) => w.key).join(', ')}${err.missing.length > 3 ? ', ...' : ''}); give them with --weights CHECKPOINT`);
    }
    throw err;
  }
}

const ACCEPTED: Readonly<Record<DTypeName, readonly StorageDType[]>> = {
  f32: ['F32', 'F64', 'F16', 'BF16'],
  i32: ['I32', 'I64', 'I16', 'I8', 'U8'],
  bool: ['BOOL'],
  f16: [],
};

/** `--in` and `--arg` → the positional arguments of the call, each checked against its parameter. */
function callArguments(sig: FunctionSig, args: RunArgs, owner: string, origins: Map<string, string>): CallInput[] {
  const given = new Map<string, CallInput>();
  const sizes = new Map<string, { size: number; from: string }>();
  const param = (name: string, option: string) => {
    const p = sig.params.find((q) => q.name === name);
    if (!p) throw new UsageError(`${option} ${name}: ${owner} has no parameter ${name}; its parameters are ${describeParams(sig)}`);
    if (given.has(name)) throw new UsageError(`${option} ${name}: ${name} is given twice`);
    return p;
  };
  for (const text of args.inputs) {
    const [name, file] = splitAssignment(text, '--in', 'x=x.safetensors');
    const p = param(name, '--in');
    if (p.kind !== 'tensor') throw new UsageError(`--in ${name}: ${name} is not a tensor (${p.declared}); give it with --arg ${name}=VALUE`);
    given.set(name, readInput(p, file, sizes, origins));
  }
  for (const text of args.args) {
    const [name, value] = splitAssignment(text, '--arg', 'scale=0.5');
    const p = param(name, '--arg');
    if (p.kind === 'tensor') throw new UsageError(`--arg ${name}: ${name} is a tensor (${p.declared}); give it with --in ${name}=FILE.safetensors`);
    given.set(name, { value: parseValue(value, `--arg ${name}`) });
  }
  try {
    return orderArguments(sig, given, (json) => ({ value: json }), owner);
  } catch (err) {
    if (err instanceof BindingInputError) throw new UsageError(`${err.message}\nGive tensors with --in NAME=FILE.safetensors and other values with --arg NAME=VALUE.`);
    throw err;
  }
}

/** The tensor for `p` from `FILE`, `FILE:KEY`, checked for dtype and shape. */
function readInput(p: TensorParam, spec: string, sizes: Map<string, { size: number; from: string }>, origins: Map<string, string>): HostTensor {
  const where = `--in ${p.name}=${spec}`;
  let path = spec;
  let key: string | undefined;
  const colon = spec.lastIndexOf(':');
  if (!existsSync(spec) && colon > 0 && existsSync(spec.slice(0, colon))) {
    path = spec.slice(0, colon);
    key = spec.slice(colon + 1);
  }
  if (!existsSync(path)) throw new UsageError(`${where}: no such file`);
  const source = loadWeights(path);
  let tensor: HostTensor;
  try {
    const keys = source.keys();
    const chosen = key ?? (source.has(p.name) ? p.name : keys.length === 1 ? keys[0] : undefined);
    if (chosen === undefined) {
      throw new UsageError(`${where}: ${path} holds ${keys.length} tensors and none is named ${p.name}; pick one with --in ${p.name}=${path}:KEY (keys: ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''})`);
    }
    tensor = source.read(chosen);
    origins.set(p.name, `${path} [${chosen}]`);
  } finally {
    source.close();
  }
  if (!ACCEPTED[p.dtype].includes(tensor.dtype)) {
    throw new BindingInputError(`${where}: the tensor is ${tensor.dtype}, but ${p.name}: ${p.declared} takes ${p.dtype}${p.dtype === 'f16' ? '' : ` (${ACCEPTED[p.dtype].join(', ')})`}; convert it (kiln convert --dtype) or pick another tensor.`);
  }
  const problem = shapeProblem(p, tensor.shape, sizes);
  if (problem) throw new BindingInputError(`${where}: the tensor [${tensor.shape.join(', ')}] ${problem}.`);
  return tensor;
}

function describePlan(plan: MemoryPlan, kernels: number): string {
  return `planned peak memory: ${formatBytes(plan.peakBytes)} (inputs ${formatBytes(plan.inputBytes)}, weights ${formatBytes(plan.weightBytes)}, ` +
    `intermediates and outputs ${formatBytes(plan.arenaBytes)} in ${plan.arenas.length} arena${plan.arenas.length === 1 ? '' : 's'}); ${kernels} kernel${kernels === 1 ? '' : 's'}`;
}

async function runOnce(
  session: ModelSession, sig: FunctionSig, callArgs: CallInput[], args: RunArgs, owner: string, device: KilnDevice | undefined, origins: ReadonlyMap<string, string>,
): Promise<number> {
  for (const [i, a] of callArgs.entries()) {
    const p = sig.params[i];
    if ('data' in a) console.log(`  ${p.name}: ${a.dtype}[${a.shape.join(', ')}] from ${origins.get(p.name)}`);
    else if (a.value !== null) console.log(`  ${p.name} = ${JSON.stringify(a.value)}`);
  }
  const prepared = session.prepare(sig.name, callArgs, {
    onCompile: (c) => console.log(`compiled ${c.kernels} kernel${c.kernels === 1 ? '' : 's'} in ${c.ms.toFixed(0)} ms`),
  });
  let program: CompiledProgram | undefined = prepared.program;
  if (!program) {
    // The interpreter needs no kernels; compile for WebGPU's default limits to report the plan and dump kernels.
    try {
      program = compile(prepared.graph, DEFAULT_TARGET, { fuse: args.fuse, name: owner });
      console.log(`${describePlan(program.plan, program.kernels.length)} (compiled for WebGPU's default limits; the interpreter runs on the CPU)`);
    } catch (err) {
      if (!(err instanceof CompileError)) throw err;
      console.log(`planned peak memory: not available (${err.message.split('\n')[0]})`);
    }
  }
  if (args.dumpWgsl && program) {
    const written = await dumpWgsl(program, args.dumpWgsl);
    console.log(`wrote ${written.length - 1} kernel${written.length === 2 ? '' : 's'} and index.txt under ${args.dumpWgsl}`);
  }
  const result = await session.call(sig.name, callArgs, {
    profile: args.profile,
    onPlan: (plan, p) => console.log(describePlan(plan, p.kernels.length)),
  });
  const outputs = new Map<string, HostTensor>();
  for (const [name, t] of Object.entries(result.outputs)) outputs.set(name, t.dtype === 'F64' ? fromFloat64(toFloat64(t), t.shape, 'F32') : t);
  writeSafetensors(args.out, outputs, { kiln_entry: owner, kiln_backend: args.backend });
  console.log(`wrote ${outputs.size} output${outputs.size === 1 ? '' : 's'} to ${args.outText}:`);
  for (const [name, t] of outputs) {
    const declared = sig.outputs?.find((o) => o.name === name);
    console.log(`  ${name}: ${t.dtype === 'F32' ? 'f32' : t.dtype === 'I32' ? 'i32' : 'bool'}[${t.shape.join(', ')}]${declared ? `  (declared ${formatSigType(declared.dtype, declared.dims)})` : ''}`);
  }
  if (args.profile && result.profile) {
    const method = device?.target.features.timestampQuery ? 'timestamp' : 'wall';
    console.log('');
    console.log(`profile: ${result.profile.length} kernel${result.profile.length === 1 ? '' : 's'}`);
    console.log(formatProfile(result.profile, method));
  }
  return 0;
}
