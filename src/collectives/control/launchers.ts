/**
 * Rank, world size and coordinator address from the environment of the usual launchers,
 * so `gpubench worker` needs no flags under them. The launcher's own variables always
 * win where present: rank, world size and local rank come from the first launcher found
 * in this order, and `GPUBENCH_COORDINATOR` only ever gives the coordinator's address.
 *
 * | launcher        | rank                   | size                   | local rank                   | coordinator host (port)   |
 * |-----------------|------------------------|------------------------|------------------------------|----------------------------|
 * | torchrun        | RANK                   | WORLD_SIZE             | LOCAL_RANK                   | MASTER_ADDR (MASTER_PORT + 1) |
 * | Open MPI        | OMPI_COMM_WORLD_RANK   | OMPI_COMM_WORLD_SIZE   | OMPI_COMM_WORLD_LOCAL_RANK   | —                          |
 * | Slurm           | SLURM_PROCID           | SLURM_NTASKS           | SLURM_LOCALID                | first host of SLURM_JOB_NODELIST (or SLURM_NODELIST) |
 * | Kubernetes Indexed Job | JOB_COMPLETION_INDEX | GPUBENCH_WORLD_SIZE |                              | —                          |
 * | explicit (no launcher) | GPUBENCH_RANK    | GPUBENCH_WORLD_SIZE    | GPUBENCH_LOCAL_RANK          | —                          |
 *
 * `GPUBENCH_COORDINATOR` (a ws:// URL) overrides the address under every launcher. Where
 * a launcher gives only a host, the port is `GPUBENCH_COORDINATOR_PORT`, else 29400 —
 * except under torchrun, whose own rendezvous store already binds `MASTER_PORT`: there it
 * is `MASTER_PORT + 1` unless `GPUBENCH_COORDINATOR_PORT` says otherwise.
 */

/** Which launcher started this process. */
export type LauncherName = 'explicit' | 'torchrun' | 'openmpi' | 'slurm' | 'kubernetes';

/** What the environment says about this process's place in the job. */
export interface LaunchInfo {
  launcher: LauncherName;
  rank?: number;
  size?: number;
  localRank?: number;
  /** ws://host:port of the coordinator, when the environment names it. */
  coordinator?: string;
  /** The variable the coordinator's address came from, for messages. */
  coordinatorFrom?: string;
}

/** Default coordinator port when a launcher gives only a host. */
export const DEFAULT_COORDINATOR_PORT = 29400;

/**
 * Every variable a launcher sets that `detectLaunch` reads: cleared in the environment of
 * worker processes that gpubench starts itself (`--local-nodes`), whose ranks are its own.
 */
export const LAUNCHER_VARIABLES = [
  'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT',
  'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK',
  'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_JOB_NODELIST', 'SLURM_NODELIST',
  'JOB_COMPLETION_INDEX', 'GPUBENCH_COORDINATOR',
] as const;

const int = (v: string | undefined): number | undefined => {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
};

/** ws://host:port, with IPv6 literals bracketed. */
export const wsUrl = (host: string, port: number): string => `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * The first host of a Slurm node list: `gpu[003-010,012],cpu01` → `gpu003`.
 * Handles one bracket group per name, ranges and zero padding, as `scontrol show hostnames` would.
 */
export function firstSlurmHost(nodelist: string): string | undefined {
  const m = /^([^,[]+)(?:\[([^\]]+)\])?/.exec(nodelist.trim());
  if (!m) return undefined;
  if (!m[2]) return m[1];
  const first = m[2].split(',')[0]!.split('-')[0]!;
  return `${m[1]}${first}`;
}

/** Reads the launcher variables from `env` (an empty variable counts as unset). */
export function detectLaunch(env: NodeJS.ProcessEnv = process.env): LaunchInfo | undefined {
  env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const givenPort = int(env.GPUBENCH_COORDINATOR_PORT);
  const port = givenPort ?? DEFAULT_COORDINATOR_PORT;
  const explicit = env.GPUBENCH_COORDINATOR;
  const at = (host: string | undefined, p: number, from: string) =>
    explicit ? { coordinator: explicit, coordinatorFrom: 'GPUBENCH_COORDINATOR' } : host ? { coordinator: wsUrl(host, p), coordinatorFrom: from } : {};
  if (env.RANK !== undefined && env.WORLD_SIZE !== undefined) {
    // torchrun's c10d/static store listens on MASTER_PORT itself.
    const masterPort = int(env.MASTER_PORT);
    const p = givenPort ?? (masterPort !== undefined ? masterPort + 1 : DEFAULT_COORDINATOR_PORT);
    return {
      launcher: 'torchrun', rank: int(env.RANK), size: int(env.WORLD_SIZE), localRank: int(env.LOCAL_RANK),
      ...at(env.MASTER_ADDR, p, givenPort !== undefined ? 'MASTER_ADDR and GPUBENCH_COORDINATOR_PORT' : 'MASTER_ADDR and MASTER_PORT + 1'),
    };
  }
  if (env.OMPI_COMM_WORLD_RANK !== undefined)
    return { launcher: 'openmpi', rank: int(env.OMPI_COMM_WORLD_RANK), size: int(env.OMPI_COMM_WORLD_SIZE), localRank: int(env.OMPI_COMM_WORLD_LOCAL_RANK), ...at(undefined, port, '') };
  if (env.SLURM_PROCID !== undefined) {
    const host = firstSlurmHost(env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST ?? '');
    return { launcher: 'slurm', rank: int(env.SLURM_PROCID), size: int(env.SLURM_NTASKS), localRank: int(env.SLURM_LOCALID), ...at(host, port, 'the first host of SLURM_JOB_NODELIST') };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined)
    return { launcher: 'kubernetes', rank: int(env.JOB_COMPLETION_INDEX), size: int(env.GPUBENCH_WORLD_SIZE), ...at(undefined, port, '') };
  if (env.GPUBENCH_RANK !== undefined || explicit)
    return { launcher: 'explicit', rank: int(env.GPUBENCH_RANK), size: int(env.GPUBENCH_WORLD_SIZE), localRank: int(env.GPUBENCH_LOCAL_RANK), ...at(undefined, port, '') };
  return undefined;
}
