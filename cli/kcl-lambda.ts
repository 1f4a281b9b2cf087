#!/usr/bin/env node
import type { CliCommand } from './cli-command';
import { COMMANDS } from './commands';

/** The usage text: one line per subcommand. */
export function usage(commands: readonly CliCommand[] = COMMANDS): string {
  const width = Math.max(0, ...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return ['Usage: kcl-lambda <command> [options]', '', 'Commands:', ...lines, '', 'kcl-lambda <command> --help shows its options.'].join('\n');
}

/** Runs `kcl-lambda <command> …`; resolves to the exit code (2 for a command it does not know). */
export async function main(argv: readonly string[], commands: readonly CliCommand[] = COMMANDS): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage(commands));
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    console.error(`kcl-lambda: unknown command "${name}"\n\n${usage(commands)}`);
    return 2;
  }
  return command.run(args);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`kcl-lambda: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
