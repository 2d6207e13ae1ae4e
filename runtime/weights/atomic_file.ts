/**
 * Atomic file writes: content goes to a temporary file in the destination's folder (same file
 * system, so the final rename is atomic) and only a complete, flushed file is renamed into
 * place. On any failure the temporary file is removed and the destination is left untouched.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { WeightsError } from './errors.ts';

export function writeFileAtomically(path: string, write: (out: FileSink) => void): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx');
  } catch (err) {
    throw describeOpenError(path, err);
  }
  try {
    write(new FileSink(fd));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // Already gone (or never created): nothing half-written is left behind.
    }
    throw err;
  }
}

/** A whole text file, written atomically (see writeFileAtomically). */
export function writeTextFileAtomically(path: string, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  writeFileAtomically(path, (out) => out.write(bytes));
}

/** Sequential writes to an open file, tracking the position. */
export class FileSink {
  position = 0;
  constructor(private readonly fd: number) {}

  write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.byteLength) {
      done += writeSync(this.fd, bytes, done, bytes.byteLength - done, this.position + done);
    }
    this.position += bytes.byteLength;
  }
}

function describeOpenError(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const folder = dirname(path);
  if (code === 'ENOENT') return new WeightsError(`cannot write ${path}: the folder ${folder} does not exist. Create it first.`);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new WeightsError(`cannot write ${path}: no permission to create files in ${folder}.`);
  if (code === 'ENOTDIR') return new WeightsError(`cannot write ${path}: ${folder} is not a folder.`);
  return err;
}
