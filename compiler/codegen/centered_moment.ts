/**
 * One-pass centred sums of squares in a row chain. GroupNorm and LayerNorm compute the mean,
 * then Σ (x - mean)²: written naively, the second sum is a second pass over x that can only
 * start once the mean is known. Instead, in the chain's first loop, each thread keeps the
 * count n, mean and M2 = Σ (x - mean)² of its share of the row (Welford's method, updated
 * with Chan's formula a block of 1 or 4 elements at a time), and once the row's mean m is
 * known its share of the centred sum is exactly
 *   Σ (x - m)² = M2 + n·(mean - m)²,
 * two non-negative terms, which the ordinary combining tree then adds up. Unlike the
 * textbook Σx² - n·m² (or sums shifted by a sample, which an outlier spoils) nothing cancels,
 * so it is as accurate in f32 as the two-pass form, on data far from zero too.
 *
 * Recognised form (after simplification): sum over the chain's axes of d · d, d = X - M (or
 * M - X), where X does not depend on any result of the chain (so the first loop can read it)
 * and M depends only on chain results and constants (one value per row).
 */
import type { Node, ReduceNode } from '../ir.ts';
import type { Storage } from './values.ts';

export interface CenteredSquares {
  /** The value whose squared deviations are summed, read in the chain's first loop. */
  readonly x: Node;
  /** The per-row centre (typically the mean), known once earlier reductions are done. */
  readonly centre: Node;
}

/** True if `n` depends only on `results` and constants (one value per row). */
function perRow(n: Node, results: ReadonlySet<number>, storage: Storage): boolean {
  if (results.has(n.id)) return true;
  if (n.op === 'const') return true;
  if (storage.tensorOf(n) !== undefined) return false;
  switch (n.op) {
    case 'unary': case 'binary': case 'where': case 'cast':
    case 'reshape': case 'permute': case 'expand': case 'slice': case 'repeat':
      return n.src.every((s) => perRow(s, results, storage));
    default:
      return false;
  }
}

/** True if the inlined expression `n` reads any of `results`. */
function reads(n: Node, results: ReadonlySet<number>, storage: Storage, seen = new Set<number>()): boolean {
  if (results.has(n.id)) return true;
  if (seen.has(n.id) || storage.tensorOf(n) !== undefined) return false;
  seen.add(n.id);
  return n.src.some((s) => reads(s, results, storage, seen));
}

/**
 * The centred-squares form of reduction `r`, or undefined. `results` are the nodes of the
 * chain that hold per-row results (every reduction's end and anchor).
 */
export function centeredSquares(r: ReduceNode, results: ReadonlySet<number>, storage: Storage): CenteredSquares | undefined {
  if (r.fn !== 'sum' || r.dtype !== 'f32') return undefined;
  const sq = r.src[0];
  if (storage.tensorOf(sq) !== undefined || sq.op !== 'binary' || sq.fn !== 'mul' || sq.src[0] !== sq.src[1]) return undefined;
  const d = sq.src[0];
  if (storage.tensorOf(d) !== undefined || d.op !== 'binary' || d.fn !== 'sub') return undefined;
  for (const [x, centre] of [[d.src[0], d.src[1]], [d.src[1], d.src[0]]] as const) {
    if (perRow(centre, results, storage) && reads(centre, results, storage) && !reads(x, results, storage)) return { x, centre };
  }
  return undefined;
}
