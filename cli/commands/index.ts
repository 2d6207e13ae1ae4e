import type { Command } from '../command.ts';

/** Every subcommand, in the order `kiln --help` lists them. */
export const COMMANDS: readonly Command[] = [];
