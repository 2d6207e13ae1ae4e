import type { Command } from '../command.ts';
import { devicesCommand } from './devices.ts';
import { convertCommand } from './convert.ts';
import { goldenCommand } from './golden.ts';
import { i2vCommand } from './i2v.ts';
import { vaeCommand } from './vae.ts';
import { checkCommand } from './check.ts';
import { runCommand } from './run.ts';
import { compileCommand } from './compile.ts';
import { tuneCommand } from './tune.ts';
import { benchCommand } from './bench.ts';

/** Every subcommand, in the order `kiln --help` lists them. */
export const COMMANDS: readonly Command[] = [vaeCommand, i2vCommand, checkCommand, runCommand, compileCommand, tuneCommand, benchCommand, goldenCommand, convertCommand, devicesCommand];
