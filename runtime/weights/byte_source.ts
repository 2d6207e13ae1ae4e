/**
 * ByteSource: random-access reads from a file or an in-memory buffer, so readers of
 * safetensors and zip archives can fetch just the bytes they need (checkpoints can be larger
 * than we want to hold twice in memory). Reads outside the source are bugs in the caller: every
 * format reader checks its offsets against `size` first and reports damage in its own words.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CheckpointError } from './errors.ts';

export interface ByteSource {
  /** What to call this source in messages: the file path, or a label for in-memory data. */
  readonly label: string;
  readonly size: number;
  /** A fresh copy of bytes [offset, offset + length); its buffer starts at byte 0. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

// fs.readSync takes at most 2^31 - 1 bytes per call.
const MAX_READ = 1 << 30;

export class FileByteSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;

  constructor(readonly label: string) {
    this.fd = openSync(label, 'r');
    try {
      const stat = fstatSync(this.fd);
      // open(2) succeeds on a folder; reads would fail later with a less helpful error.
      if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: ${label} is a directory`), { code: 'EISDIR' });
      this.size = stat.size;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    if (this.fd === undefined) throw new Error(`read from ${this.label} after close()`);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(MAX_READ, length - done), offset + done);
      if (n === 0) throw new Error(`${this.label}: file ended at byte ${offset + done} while reading; was it truncated while open?`);
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(readonly bytes: Uint8Array, readonly label = '<memory>') {
    this.size = bytes.byteLength;
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  /** A view without copying, for callers that only look (header parsing) or can use views. */
  view(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  close(): void {}
}

function checkRange(src: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new RangeError(`${src.label}: read of ${length} bytes at ${offset} is outside the ${src.size}-byte source`);
  }
}

/**
 * Opens `path` for reading, turning the usual file-system mistakes (missing file, a folder,
 * no permission) into a user-facing error that says which file and what to check.
 */
export function openFileSource(path: string, what = 'weights file'): FileByteSource {
  try {
    return new FileByteSource(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(`cannot open ${what} ${path}: no such file. Check the path.`);
    if (code === 'EISDIR') throw new CheckpointError(`cannot open ${what} ${path}: it is a folder, expected a file.`);
    if (code === 'EACCES' || code === 'EPERM') throw new CheckpointError(`cannot open ${what} ${path}: permission denied.`);
    throw err;
  }
}
