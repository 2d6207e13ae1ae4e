import { COMMANDS } from './commands/index.ts';
import { UsageError } from './command.ts';
import { isUserError, formatUserError } from './errors.ts';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 8);
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'kiln — a typed tensor language and compiler: model graphs to fused WGSL kernels, run on GPUs through Dawn.',
    '',
    'Usage: kiln <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `kiln <command> --help` for the options of a command.',
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0]) return main([rest[0], '--help']);
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`kiln: unknown command '${name}'.\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`kiln ${name}: ${err.message}`);
      return 2;
    }
    // node:util parseArgs rejects unknown or malformed options with these codes.
    if (err instanceof Error && String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')) {
      console.error(`kiln ${name}: ${err.message}\nRun \`kiln ${name} --help\` for the options.`);
      return 2;
    }
    if (isUserError(err)) {
      console.error(formatUserError(err));
      return 1;
    }
    throw err;
  }
}
