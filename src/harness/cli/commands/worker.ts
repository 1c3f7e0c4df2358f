/**
 * `gpubench worker`: one rank of a multi-node run. Connects to the coordinator (from
 * `--coordinator`, or the launcher's environment: Slurm, Open MPI, torchrun, Kubernetes;
 * see docs/collectives.md), retrying until it is up, runs what it is sent, exits 0 when
 * the run is done, 2 when the coordinator refuses its configuration (world size) and 3
 * when the coordinator or a peer is lost.
 */
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import { intIn, ms, portRange } from '../options.js';
import { detectLaunch } from '../../../collectives/control/launchers.js';

interface WorkerCliOptions {
  coordinator?: string;
  token?: string;
  dataHost?: string;
  dataBind?: string;
  dataPorts?: [number, number];
  connectTimeout: number;
  gpusPerProcess?: number;
}

export const workerCommand: CliCommand = {
  register(program: Command) {
    program
      .command('worker')
      .description('join a multi-node run as one rank (the coordinator and rank may come from Slurm, Open MPI, torchrun or Kubernetes variables)')
      .option('--coordinator <url>', 'ws://host:port of the coordinator (default: from the launcher environment)')
      .option('--token <secret>', 'the coordinator\'s shared secret (prefer GPUBENCH_TOKEN: argv is visible to every user of the host)')
      .option('--data-host <addr>', 'address peers reach this worker\'s data server at (default: the local address of the connection to the coordinator)')
      .option('--data-bind <addr>', 'address the data server binds (default: the data host on loopback, else all interfaces)')
      .option('--data-ports <range>', 'port range for the data server, e.g. 30000-30099 (default: any free port)', portRange)
      .option('--connect-timeout <ms>', 'keep retrying a coordinator that is not up yet for this long', ms, 60_000)
      .option('--gpus-per-process <n>', 'drive N GPUs as N consecutive ranks (device = local rank × N + i, or GPUBENCH_CUDA_DEVICE=a,b,…); the coordinator\'s --world-size counts ranks', intIn(1, 64))
      .action(async (opts: WorkerCliOptions) => {
        const launch = detectLaunch();
        const coordinator = opts.coordinator ?? launch?.coordinator;
        if (!coordinator) throw new UsageError('no coordinator given, and no launcher variables name one (MASTER_ADDR, SLURM_JOB_NODELIST, GPUBENCH_COORDINATOR)', '--coordinator');
        let url: URL;
        try {
          url = new URL(coordinator);
        } catch {
          throw new UsageError(`"${coordinator}" is not a URL like ws://host:29400${opts.coordinator ? '' : ` (from ${launch?.coordinatorFrom ?? 'the environment'})`}`, '--coordinator');
        }
        if (url.protocol !== 'ws:') throw new UsageError(`"${coordinator}" must start with ws://`, '--coordinator');
        if (!opts.coordinator && launch?.coordinatorFrom) process.stderr.write(`gpubench worker: coordinator ${coordinator} (from ${launch.coordinatorFrom})\n`);
        const { runWorker } = await import('../../../collectives/control/worker.js');
        const code = await runWorker({
          coordinator,
          token: opts.token ?? (process.env.GPUBENCH_TOKEN || undefined),
          dataHost: opts.dataHost,
          dataBind: opts.dataBind,
          dataPorts: opts.dataPorts,
          connectTimeoutMs: opts.connectTimeout,
          launch,
          gpusPerProcess: opts.gpusPerProcess,
        });
        process.exitCode = code;
      });
  },
};
