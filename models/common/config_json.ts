/**
 * Reading a transformers `config.json`: objects, and the numeric fields a model depends on,
 * each taken from the file or else from the library's default, with the field named when a
 * value is not what the model can use.
 */

/** `v` as a JSON object, or undefined (arrays and null are not objects here). */
export function jsonObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

/**
 * The fields of `defaults` read from `json`: `floats` must be positive numbers, the rest
 * integers of at least `minInteger`. `fallback` may supply a field's default from the file
 * itself (e.g. num_key_value_heads = num_attention_heads). `fail` makes the error thrown for
 * a message that already names `where` and the field.
 */
export function numericFields<T extends object>(
  json: Readonly<Record<string, unknown>>, defaults: T,
  opts: { where: string; floats: readonly (keyof T & string)[]; minInteger?: number; fail: (message: string) => Error; fallback?: (key: keyof T & string) => unknown },
): T {
  const minInteger = opts.minInteger ?? 0;
  const out: Record<string, number> = {};
  for (const [k, d] of Object.entries(defaults) as [keyof T & string, number][]) {
    const v = json[k] ?? opts.fallback?.(k) ?? d;
    const float = opts.floats.includes(k);
    if (typeof v !== 'number' || !Number.isFinite(v) || (float ? v <= 0 : !Number.isInteger(v) || v < minInteger)) {
      const want = float ? 'a positive number' : minInteger > 0 ? 'a positive integer' : 'a non-negative integer';
      throw opts.fail(`${opts.where}: ${k} must be ${want}, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return out as unknown as T;
}
