/**
 * TuningTable: what compile consults for a tuned kernel — the tiles stored for a kernel
 * signature (signature.ts) on one target. The on-disk cache (cache.ts) gives one per adapter;
 * tests build them in memory.
 */
import type { KernelTiles } from '../codegen/common.ts';

export interface TuningTable {
  lookup(signature: string): KernelTiles | undefined;
}

/** A table from a plain map (signature -> tiles). */
export function tableOf(entries: ReadonlyMap<string, KernelTiles> | Readonly<Record<string, KernelTiles>>): TuningTable {
  const map = entries instanceof Map ? entries : new Map(Object.entries(entries));
  return { lookup: (sig) => map.get(sig) };
}
