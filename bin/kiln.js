#!/usr/bin/env node
// The `kiln` command. Kiln is written in TypeScript and run through tsx's loader, so an
// install needs no build step and stack traces point at the .ts sources.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
