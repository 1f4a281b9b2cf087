import type { CliCommand } from './cli-command';
import { leaseTableCommand } from './lease-table-command';
import { localCommand } from './local-command';

/** Every subcommand of the `kcl-lambda` bin, in the order the usage text lists them. */
export const COMMANDS: readonly CliCommand[] = [localCommand, leaseTableCommand()];
