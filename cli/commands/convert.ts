/**
 * `kiln convert`: reads any checkpoint Kiln understands (safetensors, sharded index, PyTorch
 * zip checkpoint, model folder) and writes its tensors as one safetensors file, optionally
 * casting floating tensors and selecting or stripping a key prefix. Tensors are converted and
 * written one at a time, and the output appears only when complete.
 */
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { STORAGE_BYTES, elementCount } from '../../runtime/tensor.ts';
import { castDType, castFloating, type FloatDType } from '../../runtime/weights/cast.ts';
import { loadWeights, prefixView, requirePrefix, unwrapStateDict, type WeightSource } from '../../runtime/weights/checkpoint.ts';
import { STORAGE_DTYPES } from '../../runtime/weights/dtypes.ts';
import { CheckpointError } from '../../runtime/weights/errors.ts';
import { writeSafetensorsStreaming } from '../../runtime/weights/safetensors.ts';

const DTYPES: Record<string, FloatDType> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

const HELP = `Usage: kiln convert IN OUT.safetensors [options]

Reads the tensors of a checkpoint and writes them to one .safetensors file.

IN may be:
  a .safetensors file
  a shard index (*.safetensors.index.json or *.bin.index.json) with its shards beside it
  a PyTorch checkpoint written by torch.save (.pt, .pth, .bin, .ckpt; torch >= 1.6).
    It is read without running any of its code: only tensors and plain containers load,
    and a file that asks for anything else is refused.
  a model folder holding one of these (diffusion_pytorch_model.safetensors,
    model.safetensors, their index, pytorch_model.bin, or a lone weights file)

Options:
  --dtype f32|f16|bf16  Store floating-point tensors (F64, F32, F16, BF16) as this type,
                        rounding to nearest-even. Integer and bool tensors are kept as is.
                        Default: keep every tensor's dtype.
  --prefix P            Keep only tensors whose key starts with P (for example "vae.").
  --strip-prefix        Remove P from the kept keys ("vae.encoder.x" -> "encoder.x").
                        Needs --prefix.
  --from KEY            Take the tensors under this nested entry of the checkpoint, with
                        "KEY." removed from their keys (for example "state_dict" or "ema").
                        Default: a top-level "state_dict" entry when the file has one,
                        otherwise every tensor.
  --whole               Keep every tensor under its full key; do not unwrap "state_dict".
  --force               Overwrite OUT if it already exists.
  -h, --help            Show this help.

Keys from PyTorch checkpoints are the dotted paths of nested dicts and lists
("state_dict.encoder.conv_in.weight"). Safetensors metadata of IN is kept; output from a
PyTorch checkpoint is marked {"format": "pt"} as torch-side loaders expect.
OUT is written to a temporary file in its folder and renamed when complete, so a failed
conversion never leaves a partial file.

Examples:
  kiln convert ckpts/vae/pytorch_model.pt vae.safetensors
  kiln convert model.pt vae-f16.safetensors --prefix vae. --strip-prefix --dtype f16`;

export const convertCommand: Command = {
  name: 'convert',
  summary: 'Convert a checkpoint (.pt/.bin, sharded, safetensors) to one .safetensors file',
  help: HELP,
  async run(argv) {
    const args = parse(argv);
    const source = loadWeights(args.input);
    try {
      return convert(source, args);
    } finally {
      source.close();
    }
  },
};

interface ConvertArgs {
  readonly input: string;
  readonly output: string;
  readonly dtype?: FloatDType;
  readonly prefix?: string;
  readonly stripPrefix: boolean;
  readonly from?: string;
  readonly whole: boolean;
}

function parse(argv: readonly string[]): ConvertArgs {
  const parsed = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      dtype: { type: 'string' },
      prefix: { type: 'string' },
      'strip-prefix': { type: 'boolean', default: false },
      from: { type: 'string' },
      whole: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
  const { values, positionals } = parsed;
  if (positionals.length !== 2) {
    throw new UsageError(`expected two arguments, IN and OUT.safetensors, but got ${positionals.length}${positionals.length ? ` (${positionals.join(' ')})` : ''}.\nUsage: kiln convert IN OUT.safetensors [--dtype f32|f16|bf16] [--prefix P] [--strip-prefix]`);
  }
  const [input, output] = positionals;
  if (!output.endsWith('.safetensors')) throw new UsageError(`the output ${output} must be a .safetensors file (kiln convert writes safetensors only).`);
  let dtype: FloatDType | undefined;
  if (values.dtype !== undefined) {
    dtype = DTYPES[values.dtype.toLowerCase()];
    if (!dtype) throw new UsageError(`--dtype ${values.dtype} is not one of f32, f16, bf16.`);
  }
  if (values['strip-prefix'] && values.prefix === undefined) throw new UsageError('--strip-prefix needs --prefix P to say what to strip.');
  if (values.from !== undefined && values.whole) throw new UsageError('--from and --whole contradict each other; use one.');
  if (existsSync(output)) {
    if (existsSync(input) && realpathSync(output) === realpathSync(input)) throw new UsageError(`the output ${output} is the input file; write to a new file.`);
    if (!values.force) throw new UsageError(`${output} already exists; pass --force to overwrite it.`);
  }
  return { input, output: resolve(output), dtype, prefix: values.prefix, stripPrefix: values['strip-prefix'] ?? false, from: values.from, whole: values.whole ?? false };
}

function convert(original: WeightSource, args: ConvertArgs): number {
  const notes: string[] = [];
  let source = original;
  if (args.from !== undefined) {
    source = requirePrefix(source, `${args.from}.`);
    notes.push(`took the tensors under "${args.from}"`);
  } else if (!args.whole) {
    const unwrapped = unwrapStateDict(source);
    if (unwrapped !== source) notes.push('took the tensors under "state_dict" (use --whole to keep everything)');
    source = unwrapped;
  }
  if (args.prefix !== undefined) {
    source = requirePrefix(source, args.prefix, { strip: args.stripPrefix });
    notes.push(`kept keys starting with "${args.prefix}"${args.stripPrefix ? ', prefix removed' : ''}`);
  }
  const keys = source.keys();
  if (keys.length === 0) throw new CheckpointError(`${original.path} holds no tensors; there is nothing to convert.`);

  const specs = keys.map((name) => {
    const info = source.info(name);
    return { name, dtype: args.dtype ? castDType(info.dtype, args.dtype) : info.dtype, shape: info.shape };
  });
  const cast = args.dtype ? specs.filter((s, i) => s.dtype !== source.info(keys[i]).dtype).length : 0;
  if (args.dtype) notes.push(`stored ${cast} floating tensor${cast === 1 ? '' : 's'} as ${args.dtype}`);

  const metadata: Record<string, string> = { ...original.metadata };
  if (original.format === 'pytorch' && metadata.format === undefined) metadata.format = 'pt';
  const bytes = writeSafetensorsStreaming(args.output, specs, (name) => {
    const t = source.read(name);
    return args.dtype ? castFloating(t, args.dtype) : t;
  }, metadata);

  const params = specs.reduce((n, s) => n + elementCount(s.shape), 0);
  const byDtype = STORAGE_DTYPES.map((d) => [d, specs.filter((s) => s.dtype === d).length] as const).filter(([, c]) => c > 0);
  const dataBytes = specs.reduce((n, s) => n + elementCount(s.shape) * STORAGE_BYTES[s.dtype], 0);
  console.log(`wrote ${args.output}`);
  console.log(`  ${specs.length} tensor${specs.length === 1 ? '' : 's'} (${byDtype.map(([d, c]) => `${c} ${d}`).join(', ')}), ${params.toLocaleString('en-US')} parameters`);
  console.log(`  ${bytes.toLocaleString('en-US')} bytes (${formatBytes(bytes)}; tensor data ${formatBytes(dataBytes)})`);
  for (const note of notes) console.log(`  ${note}`);
  return 0;
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
