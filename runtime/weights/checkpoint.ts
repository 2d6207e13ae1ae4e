/**
 * `loadWeights`: the one entry point for weights. It accepts a `.safetensors` file, a shard
 * index (`*.index.json`, safetensors or PyTorch shards), a PyTorch `.pt/.pth/.bin/.ckpt`
 * checkpoint, or a model folder holding any of these, and returns a WeightSource. The format
 * is decided by the file's first bytes, not its name, so a misnamed file still loads or fails
 * with the right explanation.
 */
import { openFileSource } from './byte_source.ts';
import { CheckpointError } from './errors.ts';
import { openPytorchCheckpoint } from './pytorch.ts';
import { openSafetensors } from './safetensors_read.ts';
import { isDirectory, isFile, openShardIndex, readShardIndex, resolveFolder } from './sharded.ts';
import { pytorchSource, safetensorsSource, type WeightSource } from './weight_source.ts';

export {
  prefixView, requirePrefix, unwrapStateDict,
  type TensorInfo, type WeightFormat, type WeightSource,
} from './weight_source.ts';

const PYTORCH_EXTENSIONS = ['.pt', '.pth', '.bin', '.ckpt'];

export function loadWeights(path: string): WeightSource {
  if (isDirectory(path)) return loadWeights(resolveFolder(path, true));
  if (!isFile(path)) throw new CheckpointError(`cannot open weights ${path}: no such file or folder. Check the path.`);
  if (path.endsWith('.json')) return openShardIndex(readShardIndex(path), openWeightsFile);
  return openWeightsFile(path);
}

/**
 * A single `.safetensors` file, a safetensors shard index, or a folder holding either
 * (PyTorch files are not considered), as one keyed view.
 */
export function openCheckpoint(path: string): WeightSource {
  if (isDirectory(path)) return openCheckpoint(resolveFolder(path, false));
  if (path.endsWith('.json')) return openShardIndex(readShardIndex(path), (p) => safetensorsSource(openSafetensors(p)));
  return safetensorsSource(openSafetensors(path));
}

function openWeightsFile(path: string): WeightSource {
  const head = readHead(path, 9);
  // Safetensors first: its 8-byte header length may well begin with the bytes "PK" (a
  // 19,280-byte header does), while a zip's byte 8 (compression method) is never "{".
  const isSafetensors = head[8] === 0x7b; // "{" right after the 8-byte header length
  const isZip = head[0] === 0x50 && head[1] === 0x4b; // "PK"
  const isPickle = head[0] === 0x80; // a pickle's PROTO opcode: a legacy torch file
  if (isSafetensors) return safetensorsSource(openSafetensors(path));
  if (isZip || isPickle) return pytorchSource(openPytorchCheckpoint(path));
  // Neither signature: let the reader the name suggests explain what is wrong.
  if (PYTORCH_EXTENSIONS.some((e) => path.endsWith(e))) return pytorchSource(openPytorchCheckpoint(path));
  return safetensorsSource(openSafetensors(path));
}

function readHead(path: string, n: number): Uint8Array {
  const src = openFileSource(path);
  try {
    return src.read(0, Math.min(n, src.size));
  } finally {
    src.close();
  }
}
