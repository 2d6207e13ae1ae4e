/**
 * The shape of a `kiln` subcommand. Each lives in cli/commands/<name>.ts and is listed in
 * cli/commands/index.ts. `run` returns the process exit code; user mistakes are reported as
 * UsageError (printed without a stack trace), anything else is a bug and keeps its trace.
 */
export interface Command {
  readonly name: string;
  /** One line for `kiln --help`. */
  readonly summary: string;
  /** Full help text for `kiln <name> --help`. */
  readonly help: string;
  run(argv: readonly string[]): Promise<number>;
}

/** A mistake in how the command was called or in its inputs: printed as is, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
