/**
 * Rounding to the nearest integer with ties to even: Python's round(x) (bucket counts, crop
 * offsets) and the x86 float-to-int conversion SLEEF's exp relies on. Math.round breaks ties
 * upward instead, which differs exactly at halves.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
