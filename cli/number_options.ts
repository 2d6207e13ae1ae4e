/** Numeric command-line options, checked with a message naming the option and what it takes. */
import { UsageError } from './command.ts';

type Values = Readonly<Record<string, string | boolean | undefined>>;

/** `--name N` as a whole number in [min, max], or undefined when absent. */
export function intOption(values: Values, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` of at least ${min}`}, not '${String(v)}'`);
  }
  return n;
}

/** `--name X` as a finite number, or `fallback` when absent. */
export function numberOption(values: Values, name: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not '${String(v)}'`);
  return n;
}
