/**
 * Submitting the shipped Slurm recipe (examples/slurm/gpubench.sbatch) unchanged, as the
 * launcher tests do: `sbatch --wait` with the job's environment, the test's own inherited
 * gpubench variables cleared, and the job's output read back for the assertions' messages.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';
import type { CommandResult } from './command.js';

/** The shipped recipe, run as is. */
export const SBATCH = join(ROOT, 'examples/slurm/gpubench.sbatch');

/** A cluster that can run Slurm's client commands (one node, or namespaced nodes). */
export interface SlurmClient {
  run(cmd: string, args: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<CommandResult>;
  logs(lines?: number): string;
}

/** What a submitted job left: sbatch's result, the job's output, and both with the daemons' logs for messages. */
export interface RecipeJob {
  code: number;
  log: string;
  /** sbatch's stderr, the job output and the daemons' last log lines: the message of a failed exit-code check. */
  context: string;
}

/**
 * `sbatch --wait --nodes=N --ntasks-per-node=G` of the recipe, with `env` (GPUBENCH,
 * GPUBENCH_RESULTS, GPUBENCH_ARGS, …) on top of short connect and grace timeouts.
 */
export async function submitRecipe(c: SlurmClient, work: string, o: { nodes: number; tasksPerNode: number; env: NodeJS.ProcessEnv }): Promise<RecipeJob> {
  const out = join(work, 'job.out');
  const job = await c.run('sbatch', ['--wait', `--nodes=${o.nodes}`, `--ntasks-per-node=${o.tasksPerNode}`, '--time=3', `--output=${out}`, SBATCH], 100_000, {
    GPUBENCH_CONNECT_TIMEOUT: '30000',
    GPUBENCH_GRACE: '20',
    // The test runner's own settings must not reach the job.
    GPUBENCH_TOKEN: '',
    GPUBENCH_COORDINATOR: '',
    GPUBENCH_RANK: '',
    ...o.env,
  });
  const log = existsSync(out) ? readFileSync(out, 'utf8') : '(no job output)';
  return { code: job.code, log, context: `sbatch: ${job.stderr}\njob output:\n${log}\n${c.logs(10)}` };
}
