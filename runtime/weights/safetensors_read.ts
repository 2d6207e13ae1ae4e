/**
 * Reading safetensors files: `openSafetensors` validates the header and then reads tensors on
 * demand at their offsets (files can be gigabytes), `readSafetensorsBytes` does the same for a
 * buffer already in memory.
 *
 * Tensors read from a file are fresh, aligned copies; tensors read from a buffer are views into
 * it when their offset is aligned to the element size, and aligned copies otherwise.
 */
import type { HostTensor } from '../tensor.ts';
import { MemoryByteSource, openFileSource, type ByteSource } from './byte_source.ts';
import { typedArrayFromBytes } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';
import { nameHint } from './names.ts';
import { parseSafetensorsHeader, type ByteRange, type SafetensorsEntry } from './safetensors_header.ts';


export interface SafetensorsFile {
  /** The file path, or the label given to an in-memory buffer. */
  readonly path: string;
  /** Tensor name → dtype, shape and absolute byte range, in header order. */
  readonly header: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly names: readonly string[];
  /** Unused stretches of the data section (allowed by the format; recorded, not reported). */
  readonly gaps: readonly ByteRange[];
  has(name: string): boolean;
  /** Throws SafetensorsError naming the file when there is no such tensor. */
  entry(name: string): SafetensorsEntry;
  read(name: string): HostTensor;
  readAll(): Map<string, HostTensor>;
  close(): void;
}

export function openSafetensors(path: string): SafetensorsFile {
  const src = openFileSource(path, 'safetensors file');
  try {
    return new SafetensorsReader(src, (e) => src.read(e.byteOffset, e.byteLength));
  } catch (err) {
    src.close();
    throw err;
  }
}

export function readSafetensorsBytes(bytes: Uint8Array, label = '<safetensors bytes>'): SafetensorsFile {
  const src = new MemoryByteSource(bytes, label);
  return new SafetensorsReader(src, (e) => src.view(e.byteOffset, e.byteLength));
}

class SafetensorsReader implements SafetensorsFile {
  readonly path: string;
  readonly header: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly names: readonly string[];
  readonly gaps: readonly ByteRange[];

  constructor(private readonly src: ByteSource, private readonly bytesOf: (e: SafetensorsEntry) => Uint8Array) {
    const parsed = parseSafetensorsHeader(src);
    this.path = src.label;
    this.header = parsed.entries;
    this.metadata = parsed.metadata;
    this.names = [...parsed.entries.keys()];
    this.gaps = parsed.gaps;
  }

  has(name: string): boolean {
    return this.header.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.header.get(name);
    if (!e) throw new SafetensorsError(`${this.path} has no tensor named ${JSON.stringify(name)}${nameHint(name, this.names)}`);
    return e;
  }

  read(name: string): HostTensor {
    const e = this.entry(name);
    return { dtype: e.dtype, shape: e.shape, data: typedArrayFromBytes(e.dtype, this.bytesOf(e)) };
  }

  readAll(): Map<string, HostTensor> {
    return new Map(this.names.map((n) => [n, this.read(n)]));
  }

  close(): void {
    this.src.close();
  }
}
