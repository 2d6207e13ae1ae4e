/**
 * fast-check generators for compiler tests: shapes whose sizes do not divide workgroup or
 * tile sizes (1, primes, 17, 33, ...), kept small because lavapipe runs on the CPU.
 */
import fc from 'fast-check';

/** Sizes that stress edges: 1, primes, one past powers of two. */
export const ODD_SIZES = [1, 2, 3, 5, 7, 11, 13, 17, 33] as const;
/** Multiples of 4, which take the vec4 load and store paths. */
export const VECTOR_SIZES = [4, 8, 12, 16, 32] as const;

export function dim(max = 33): fc.Arbitrary<number> {
  const odd = fc.constantFrom(...ODD_SIZES.filter((d) => d <= max));
  const vec = VECTOR_SIZES.filter((d) => d <= max);
  return vec.length ? fc.oneof({ weight: 3, arbitrary: odd }, { weight: 1, arbitrary: fc.constantFrom(...vec) }) : odd;
}

/** A shape of rank in [minRank, maxRank] with at most `maxElements` elements. */
export function shape(minRank = 1, maxRank = 4, maxElements = 4096, maxDim = 33): fc.Arbitrary<number[]> {
  return fc.array(dim(maxDim), { minLength: minRank, maxLength: maxRank })
    .filter((s) => s.reduce((a, b) => a * b, 1) <= maxElements);
}

export const seed = fc.integer({ min: 1, max: 2 ** 30 });

/** Run counts for GPU property tests: modest, lavapipe compiles and runs every case. */
export const GPU_RUNS = { numRuns: 6 } as const;
