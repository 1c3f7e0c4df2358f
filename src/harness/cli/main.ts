/**
 * The `gpubench` command line: a commander program whose subcommands come from
 * `commands/index.ts`. Usage errors exit 2 with a one-line message and no stack trace.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { ExitCode, exitCodeFor } from '../errors.js';
import { packageVersion } from '../version.js';

/** Builds the program; exported for tests that drive the CLI in-process. */
export function buildProgram(): Command {
  const program = new Command('gpubench')
    .description('Measure matrix multiply and all-reduce on GPU nodes, and scale the results to cluster estimates')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  for (const c of commands) c.register(program);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      if (err.exitCode === 0) return ExitCode.ok;
      return ExitCode.usage;
    }
    const code = exitCodeFor(err);
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`gpubench: ${code === ExitCode.usage ? 'error' : 'fault'}: ${msg}\n`);
    if (code !== ExitCode.usage && process.env.GPUBENCH_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return code;
  }
}
