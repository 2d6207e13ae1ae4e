/**
 * Atomic outputs: a file or folder is written under a temporary name beside its final place and
 * renamed into place only when complete, so a failed or interrupted write never leaves a
 * half-written output and never destroys the previous one. Temporary names start with a dot and
 * contain ".kiln-tmp-" (e.g. `.clip.kiln-tmp-4242-9f3a.mp4`).
 */
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { MediaError } from './errors.ts';

export const TEMP_MARKER = '.kiln-tmp-';

/** A fresh temporary path in the same folder as `target`, keeping its extension. */
export function tempPathFor(target: string): string {
  const ext = extname(target);
  const stem = basename(target, ext);
  return join(dirname(target), `.${stem}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}${ext}`);
}

export const isTempName = (name: string): boolean => name.startsWith('.') && name.includes(TEMP_MARKER);

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null; // ENOTDIR: a parent is a file; reported when creating it
    throw err;
  }
}

async function ensureParent(target: string): Promise<void> {
  try {
    await mkdir(dirname(target), { recursive: true });
  } catch (err) {
    throw new MediaError(`cannot create the folder for ${target}: ${(err as Error).message}. Check the path and its permissions.`, { cause: err });
  }
}

/**
 * Calls `write(tempPath)` to produce the file, then renames it over `target`. On failure the
 * temporary file is removed and `target` (if it existed) is untouched.
 */
export async function writeFileAtomic(target: string, write: (tempPath: string) => Promise<void>): Promise<void> {
  const existing = await statOrNull(target);
  if (existing?.isDirectory()) {
    throw new MediaError(`cannot write ${target}: a folder with that name exists. Choose another output name or remove the folder.`);
  }
  await ensureParent(target);
  const temp = tempPathFor(target);
  try {
    // Claiming the name first turns an unwritable folder into a clear EACCES before any work.
    await (await open(temp, 'wx')).close();
    await write(temp);
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true, recursive: true });
    throw wrapFsError(err, target);
  }
}

/**
 * Calls `write(tempDir)` to fill a new folder, then puts it at `target`. An existing `target` is
 * replaced only if every entry in it satisfies `replaceable` (e.g. frames from an earlier run);
 * otherwise the user's files are left alone and a MediaError says so before anything is written.
 */
export async function writeFolderAtomic(
  folder: string,
  write: (tempDir: string) => Promise<void>,
  replaceable: (name: string) => boolean,
): Promise<void> {
  // "out/" names the folder "out"; stat("out/") would fail with ENOTDIR were "out" a file.
  const target = folder.length > 1 ? folder.replace(/[/\\]+$/, '') : folder;
  const existing = await statOrNull(target);
  if (existing && !existing.isDirectory()) {
    throw new MediaError(`cannot write frames to ${target}: it is a file, not a folder. Choose a folder name (e.g. ${target}_frames/) or remove the file.`);
  }
  if (existing) {
    const foreign = (await readdir(target)).filter((name) => !replaceable(name));
    if (foreign.length > 0) {
      throw new MediaError(`cannot write frames to ${target}: the folder already holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}). ` +
        'Choose a new or empty folder, or remove those files.');
    }
  }
  await ensureParent(target);
  const temp = tempPathFor(target);
  try {
    await mkdir(temp);
    await write(temp);
  } catch (err) {
    await rm(temp, { force: true, recursive: true });
    throw wrapFsError(err, target);
  }
  if (!existing) {
    try {
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true, recursive: true });
      throw wrapFsError(err, target);
    }
    return;
  }
  // rename() cannot replace a non-empty folder: move the old one aside, then drop it.
  const old = tempPathFor(target);
  try {
    await rename(target, old);
  } catch (err) {
    await rm(temp, { force: true, recursive: true });
    throw wrapFsError(err, target);
  }
  try {
    await rename(temp, target);
  } catch (err) {
    await rename(old, target).catch(() => undefined);
    await rm(temp, { force: true, recursive: true });
    throw wrapFsError(err, target);
  }
  await rm(old, { force: true, recursive: true });
}

/** File-system failures (permissions, full disk) become user-facing; other errors pass through. */
function wrapFsError(err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof MediaError || typeof code !== 'string') return err;
  const hints: Record<string, string> = {
    EACCES: 'permission denied: choose a folder you can write to',
    EPERM: 'operation not permitted: choose a folder you can write to',
    EROFS: 'the file system is read-only: choose another place',
    ENOSPC: 'the disk is full: free some space or choose another place',
    EDQUOT: 'the disk quota is exceeded: free some space or choose another place',
  };
  const hint = hints[code];
  return hint ? new MediaError(`cannot write ${target}: ${hint} (${(err as Error).message}).`, { cause: err }) : err;
}
