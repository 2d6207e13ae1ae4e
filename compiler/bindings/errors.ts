/**
 * Errors a user causes when naming an entry point or binding one: an unknown `--entry`, a
 * function that cannot be an entry point (it returns a config value), inputs of the wrong
 * name, dtype or rank given to bindings, or bindings generated from a source that has changed
 * since. All are `userFacing`: the message says what was wrong and how to fix it.
 */
export class EntryError extends Error {
  readonly userFacing = true;
  override name = 'EntryError';
}

/** Inputs or weights given to typed bindings (or `kiln run`) that do not fit the signature. */
export class BindingInputError extends Error {
  readonly userFacing = true;
  override name = 'BindingInputError';
}

/** Generated bindings whose Kiln source no longer has the functions or parameters they name. */
export class StaleBindingsError extends Error {
  readonly userFacing = true;
  override name = 'StaleBindingsError';
}
