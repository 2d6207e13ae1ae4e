/**
 * fast-check generators for compiler tests: shapes whose sizes do not divide workgroup or
 * tile sizes (1, primes, 17, 33, ...), kept small because lavapipe runs on the CPU.
 */
import fc from 'fast-check';

/** Sizes that stress edges: 1, primes, one past powers of two. */
export const ODD_SIZES = [1, 2, 3, 5, 7, 11, 13, 17, 33] as const;

export const dim = (max = 33): fc.Arbitrary<number> => fc.constantFrom(...ODD_SIZES.filter((d) => d <= max));

/** A shape of rank in [minRank, maxRank] with at most `maxElements` elements. */
export function shape(minRank = 1, maxRank = 4, maxElements = 4096, maxDim = 33): fc.Arbitrary<number[]> {
  return fc.array(dim(maxDim), { minLength: minRank, maxLength: maxRank })
    .filter((s) => s.reduce((a, b) => a * b, 1) <= maxElements);
}

export const seed = fc.integer({ min: 1, max: 2 ** 30 });

/** Run counts for GPU property tests: modest, lavapipe compiles and runs every case. */
export const GPU_RUNS = { numRuns: 6 } as const;
