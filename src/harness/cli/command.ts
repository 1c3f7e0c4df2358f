import type { Command } from 'commander';

/**
 * A subcommand of the `gpubench` CLI. Each lives in its own file under `commands/` and
 * registers itself on the program; `commands/index.ts` lists them. An action sets
 * `process.exitCode` (0/1) or throws (UsageError → 2, anything else → 3).
 */
export interface CliCommand {
  /** Adds the subcommand, its options and its action to the program. */
  register(program: Command): void;
}
