/**
 * `gpubench coordinator`: the control plane of a multi-node run. Waits for
 * `--world-size` workers, plans the suite for that many ranks, runs every collective
 * case on all of them and writes the one results file (per-rank times, `environment.nodes`).
 * Binds 127.0.0.1 unless `--host` says otherwise; any other address needs a token.
 */
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { intIn, ms } from '../options.js';
import { UsageError } from '../../errors.js';
import { addRunOptions, runCli, type RunCliOptions } from './run.js';
import { DEFAULT_COORDINATOR_PORT } from '../../../collectives/control/launchers.js';

interface CoordinatorCliOptions extends RunCliOptions {
  worldSize: number;
  host: string;
  port: number;
  token?: string;
  rendezvousTimeout: number;
  heartbeatTimeout: number;
}

export const coordinatorCommand: CliCommand = {
  register(program: Command) {
    addRunOptions(
      program
        .command('coordinator')
        .description('coordinate a multi-node run: wait for --world-size workers, run the suite on all of them, write one results file'),
    )
      .requiredOption('--world-size <n>', 'number of workers (ranks) to wait for', intIn(1, 4096))
      .option('--host <addr>', 'address to bind; anything but loopback requires --token', '127.0.0.1')
      .option('--port <n>', 'port to bind (0: any free port)', intIn(0, 65535), DEFAULT_COORDINATOR_PORT)
      .option('--token <secret>', 'shared secret workers must present (or GPUBENCH_TOKEN)')
      .option('--rendezvous-timeout <ms>', 'how long to wait for every worker', ms, 120_000)
      .option('--heartbeat-timeout <ms>', 'a worker silent this long is lost (exit 3)', ms, 60_000)
      .action(async (opts: CoordinatorCliOptions) => {
        if (opts.reporter.length > 1 && opts.reporter[0] === 'console') opts.reporter = opts.reporter.slice(1);
        const token = opts.token ?? (process.env.GPUBENCH_TOKEN || undefined);
        const { isLoopback } = await import('../../../collectives/control/coordinator.js');
        if (!isLoopback(opts.host) && !token)
          throw new UsageError(`binding ${opts.host} exposes the coordinator beyond this machine: give a token (or GPUBENCH_TOKEN)`, '--token');
        process.exitCode = await runCli(opts, process.argv.slice(2), {
          worldSize: opts.worldSize,
          host: opts.host,
          port: opts.port,
          token,
          rendezvousTimeoutMs: opts.rendezvousTimeout,
          heartbeatTimeoutMs: opts.heartbeatTimeout,
        });
      });
  },
};
