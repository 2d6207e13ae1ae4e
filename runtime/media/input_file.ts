/**
 * Opening input files with messages a user can act on: a missing path, a folder where a file was
 * expected, or a permission problem each say so and name the path.
 */
import { open, readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { MediaError } from './errors.ts';

function inputError(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return new MediaError(`cannot read ${path}: no such file or folder. Check the path.`, { cause: err });
    case 'EACCES':
    case 'EPERM': return new MediaError(`cannot read ${path}: permission denied. Check the file's permissions.`, { cause: err });
    case 'EISDIR': return new MediaError(`cannot read ${path}: it is a folder, but a file was expected.`, { cause: err });
    case 'ENOTDIR': return new MediaError(`cannot read ${path}: a part of the path is not a folder. Check the path.`, { cause: err });
    default: return err;
  }
}

export async function statInput(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw inputError(path, err);
  }
}

export async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw inputError(path, err);
  }
}

/** The first `n` bytes of a file (fewer if it is shorter), for recognising its format. */
export async function readHead(path: string, n = 32): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, 'r');
    const buf = new Uint8Array(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } catch (err) {
    throw inputError(path, err);
  } finally {
    await handle?.close();
  }
}
