/**
 * `gpubench fleet`: find the slow GPU, the slow node and the bad link. Every node runs
 * the same matmul at once, every pair of nodes measures its link in a round-robin
 * schedule, a ring all-reduce runs over the whole group, and the verdict names the
 * suspects (exit 1) or none (exit 0). Runs on `--local-nodes N` worker processes here,
 * or as the coordinator of N plain `gpubench worker`s started by any launcher.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { byteSize, intIn, ms, positiveNumber } from '../options.js';
import { UsageError } from '../../errors.js';
import { redactArgv } from '../../redact.js';
import { DEFAULT_COORDINATOR_PORT } from '../../../collectives/control/launchers.js';

interface FleetCliOptions {
  localNodes?: number;
  worldSize?: number;
  host: string;
  port?: number;
  token?: string;
  rendezvousTimeout: number;
  heartbeatTimeout: number;
  taskTimeout: number;
  tolerance: number;
  alpha: number;
  minMads: number;
  latencyFloor: number;
  backend: string;
  matmulSize: number;
  dtype?: string;
  sampleMs: number;
  warmup: number;
  samples: number;
  pairBytes: number;
  pairSamples: number;
  pingSamples: number;
  pairsAtOnce: number;
  allreduceBytes: number;
  memcpy: string;
  memcpyBytes: number;
  allreduceK: number;
  bisect: boolean;
  json?: string;
  out: string;
  excludeFile?: string;
}

/** A fraction in (0, 1). */
function fraction(v: string): number {
  const x = Number(v);
  if (!(x > 0 && x < 1)) throw new UsageError(`"${v}" is not a fraction between 0 and 1 (e.g. 0.1 for 10%)`);
  return x;
}

export const fleetCommand: CliCommand = {
  register(program: Command) {
    program
      .command('fleet')
      .description('find the slow node and the bad link: every node\'s matmul at once, every pair\'s link, a ring all-reduce, then a verdict (exit 1 when any suspect is found)')
      .option('--local-nodes <n>', 'start a coordinator and N worker processes on this machine', intIn(1, 256))
      .option('--world-size <n>', 'coordinate N plain `gpubench worker`s started by a launcher (Slurm, mpirun, torchrun, Kubernetes)', intIn(1, 4096))
      .option('--host <addr>', 'coordinator: address to bind; anything but loopback requires --token', '127.0.0.1')
      .option('--port <n>', `coordinator: port to bind (default ${DEFAULT_COORDINATOR_PORT}; 0: any free port)`, intIn(0, 65535))
      .option('--token <secret>', 'shared secret workers must present (or GPUBENCH_TOKEN)')
      .option('--rendezvous-timeout <ms>', 'how long to wait for every worker', ms, 120_000)
      .option('--heartbeat-timeout <ms>', 'a worker silent this long is lost (named in the verdict; the run goes on)', ms, 30_000)
      .option('--task-timeout <ms>', 'a rank that has not finished a phase\'s task after this long is hung (named; the run goes on)', ms, 120_000)
      .option('--tolerance <fraction>', 'slower than the fleet median by more than this is suspect (if also significant)', fraction, 0.1)
      .option('--alpha <p>', 'significance level of the Mann-Whitney test against the pooled others', fraction, 0.01)
      .option('--min-mads <k>', 'and at least this many scaled MADs from the median (the spread between nodes, or links)', positiveNumber, 5)
      .option('--latency-floor <us>', 'pair latency: a gap from the median under this many µs is not evidence (a WebSocket ping-pong between Node processes has tens of µs of event-loop jitter)', positiveNumber, 50)
      .option('--backend <id>', 'matmul backend on every node: auto (the best each node has: cuda, hardware webgpu, tfjs-node, tfjs-cpu) or an id from `gpubench list`', 'auto')
      .option('--matmul-size <n>', 'matmul m=n=k (0: by backend: 8192 bf16 on cuda, 1024 on GPU stacks, 256 on the CPU stacks)', intIn(0, 65536), 0)
      .option('--dtype <t>', 'matmul element type (default: by backend)')
      .option('--sample-ms <ms>', 'matmul: how long one sample lasts: every node calls for this long, at once (at least 200 ms spans two CFS periods, so a CPU quota shows)', ms, 250)
      .option('--warmup <ms>', 'matmul: minimum warm-up per node', ms, 200)
      .option('--samples <n>', 'matmul: samples per node, taken on every node at once', intIn(3, 1000), 8)
      .option('--pair-bytes <size>', 'bytes each way per pair bandwidth sample', byteSize, 4 * 1024 * 1024)
      .option('--pair-samples <n>', 'bandwidth samples per pair', intIn(3, 10_000), 10)
      .option('--ping-samples <n>', 'latency samples per pair', intIn(3, 100_000), 50)
      .option('--pairs-at-once <k>', 'measure at most k pairs of a round at once (k-batches; 0: every pair that fits the hosts\' cores): less load on a shared fabric or host', intIn(0, 65536), 0)
      .option('--memcpy <backend>', 'device copy on every node after the matmul: auto (the matmul\'s backend where it has a memcpy kernel, else any backend that has one, hardware first), none, or an id', 'auto')
      .option('--memcpy-bytes <size>', 'bytes per copy (0: 256 MiB on a hardware device, 16 MiB on a software adapter)', (v: string) => (v === '0' ? 0 : byteSize(v)), 0)
      .option('--allreduce-bytes <size>', 'whole-group ring all-reduce size (0: none)', (v: string) => (v === '0' ? 0 : byteSize(v)), 1024 * 1024)
      .option('--allreduce-k <k>', 'also ring all-reduces over consecutive batches of k ranks, all at once, judged against each other (0: none)', intIn(0, 65536), 0)
      .option('--no-bisect', 'do not bisect a whole-group all-reduce that is slow against what its pairs predict')
      .option('--json <file>', 'results file (gpubench.results/v1 with a `fleet` section), written as phases complete')
      .option('--out <dir>', 'directory for the results file when --json is not given', 'results')
      .option('--exclude-file <file>', 'write the suspect hosts here as a Slurm hostlist (for sbatch --exclude); empty when none')
      .action(async (opts: FleetCliOptions) => {
        if ((opts.localNodes === undefined) === (opts.worldSize === undefined))
          throw new UsageError('give either --local-nodes N (workers on this machine) or --world-size N (workers started by a launcher)', opts.localNodes === undefined ? '--world-size' : '--local-nodes');
        const token = opts.localNodes !== undefined ? randomBytes(16).toString('hex') : (opts.token ?? (process.env.GPUBENCH_TOKEN || undefined));
        // Loaded here, not at start-up: every other command (and --help) stays light.
        const [{ isLoopback }, { runFleet }] = await Promise.all([import('../../../collectives/control/coordinator.js'), import('../../../fleet/run-fleet.js')]);
        if (opts.worldSize !== undefined && !isLoopback(opts.host) && !token)
          throw new UsageError(`binding ${opts.host} exposes the coordinator beyond this machine: give a token (or GPUBENCH_TOKEN)`, '--token');
        if (opts.memcpyBytes % 4 !== 0) throw new UsageError(`--memcpy-bytes must be a multiple of 4, not ${opts.memcpyBytes}`, '--memcpy-bytes');
        const worldSize = (opts.localNodes ?? opts.worldSize)!;
        process.exitCode = await runFleet({
          coordinator: {
            worldSize,
            host: opts.localNodes !== undefined ? '127.0.0.1' : opts.host,
            port: opts.localNodes !== undefined ? 0 : (opts.port ?? DEFAULT_COORDINATOR_PORT),
            token,
            rendezvousTimeoutMs: opts.rendezvousTimeout,
            heartbeatTimeoutMs: opts.heartbeatTimeout,
          },
          localNodes: opts.localNodes,
          taskTimeoutMs: opts.taskTimeout,
          tolerance: opts.tolerance,
          alpha: opts.alpha,
          minMads: opts.minMads,
          latencyFloorUs: opts.latencyFloor,
          backend: opts.backend,
          matmulSize: opts.matmulSize,
          dtype: opts.dtype,
          sampleMs: opts.sampleMs,
          warmupMs: opts.warmup,
          samples: opts.samples,
          pairBytes: opts.pairBytes,
          pairSamples: opts.pairSamples,
          pingSamples: opts.pingSamples,
          pairsAtOnce: opts.pairsAtOnce,
          allreduceBytes: opts.allreduceBytes,
          memcpyBackend: opts.memcpy,
          memcpyBytes: opts.memcpyBytes,
          allreduceK: opts.allreduceK,
          bisect: opts.bisect,
          jsonPath: opts.json ?? join(opts.out, `gpubench-fleet-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
          excludeFile: opts.excludeFile,
          argv: redactArgv(process.argv.slice(2)),
          log: (l) => process.stderr.write(`${l}\n`),
        });
      });
  },
};
