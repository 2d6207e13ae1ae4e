/** Helpers for the `kiln vae` CLI tests: run `main` in-process capturing its output, temp folders. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { main } from '../../../cli/main.ts';

export interface KilnRun {
  readonly code: number;
  /** What went to console.log (results). */
  readonly out: string;
  /** What went to console.error and process.stderr (progress, information, errors). */
  readonly err: string;
}

/** Runs `kiln ...args` in this process. */
export async function kiln(...args: string[]): Promise<KilnRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(`${a.join(' ')}\n`));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    const code = await main(args);
    return { code, out: out.join('\n'), err: err.join('') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

export function tempFolders() {
  const made: string[] = [];
  return {
    make(): string {
      const d = mkdtempSync(join(tmpdir(), 'kiln-vae-cli-'));
      made.push(d);
      return d;
    },
    cleanup(): void {
      for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

export const listDir = (dir: string): string[] => readdirSync(dir).sort();
