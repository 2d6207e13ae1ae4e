/** Shared test helpers: temporary folders and hand-built safetensors bytes. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder; `cleanup` removes every folder made so far. */
export function tempDirs() {
  const made: string[] = [];
  return {
    make(): string {
      const d = mkdtempSync(join(tmpdir(), 'kiln-weights-'));
      made.push(d);
      return d;
    },
    cleanup(): void {
      for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Files in `dir` whose names look like leftovers of an interrupted write. */
export const tempLeftovers = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

/**
 * Safetensors bytes built by hand: the 8-byte length, `header` (an object, serialised as is, or
 * raw text), space padding to a multiple of 8 (unless `pad` is false), then `data`.
 */
export function craftSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  let json = new TextEncoder().encode(text);
  if (pad && json.length % 8) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  return withLength(json, data);
}

/** The 8-byte little-endian length of `header`, `header` itself, then `data`. */
export function withLength(header: Uint8Array, data: Uint8Array = new Uint8Array(0), declared = header.length): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** The header of safetensors bytes, decoded independently of the reader under test. */
export function headerOf(bytes: Uint8Array): { n: number; json: Record<string, unknown> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown> };
}
