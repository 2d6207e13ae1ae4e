import type { Command } from '../command.ts';
import { devicesCommand } from './devices.ts';
import { convertCommand } from './convert.ts';
import { goldenCommand } from './golden.ts';
import { vaeCommand } from './vae.ts';

/** Every subcommand, in the order `kiln --help` lists them. */
export const COMMANDS: readonly Command[] = [vaeCommand, goldenCommand, convertCommand, devicesCommand];
