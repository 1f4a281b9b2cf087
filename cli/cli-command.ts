/** One `kcl-lambda <name>` subcommand. */
export interface CliCommand {
  /** The word after `kcl-lambda`. */
  readonly name: string;
  /** One line for the usage text. */
  readonly summary: string;
  /** Runs with the arguments after the name; resolves to the process exit code. */
  run(args: readonly string[]): Promise<number>;
}
