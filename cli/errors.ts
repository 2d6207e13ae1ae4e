/**
 * User-facing errors from any layer carry `userFacing = true` and a message that is complete
 * on its own (location, what was expected, how to fix it). The CLI prints them without a
 * stack trace; anything else is a bug in Kiln and keeps its trace.
 */
export function isUserError(err: unknown): err is Error & { userFacing: true } {
  return err instanceof Error && (err as { userFacing?: unknown }).userFacing === true;
}

export function formatUserError(err: Error): string {
  return err.message;
}
