import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Capture console.log / console.error for every test of the calling file. Returns live arrays
 * (one entry per call, arguments joined by spaces), reset before each test.
 */
export function captureConsole(): { readonly out: string[]; readonly err: string[] } {
  const lines = { out: [] as string[], err: [] as string[] };
  beforeEach(() => {
    lines.out.length = 0;
    lines.err.length = 0;
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.err.push(a.join(' ')));
  });
  afterEach(() => vi.restoreAllMocks());
  return lines;
}
