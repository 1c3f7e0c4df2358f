/**
 * Rank, world size and coordinator address from the environment of the usual launchers,
 * so `gpubench worker` needs no flags under them. First match wins, in this order:
 *
 * | launcher        | rank                   | size                   | local rank                   | coordinator host           | port |
 * |-----------------|------------------------|------------------------|------------------------------|----------------------------|------|
 * | explicit        | GPUBENCH_RANK          | GPUBENCH_WORLD_SIZE    | GPUBENCH_LOCAL_RANK          | GPUBENCH_COORDINATOR (URL) |      |
 * | torchrun-style  | RANK                   | WORLD_SIZE             | LOCAL_RANK                   | MASTER_ADDR                | MASTER_PORT |
 * | Open MPI        | OMPI_COMM_WORLD_RANK   | OMPI_COMM_WORLD_SIZE   | OMPI_COMM_WORLD_LOCAL_RANK   | (GPUBENCH_COORDINATOR)     |      |
 * | Slurm           | SLURM_PROCID           | SLURM_NTASKS           | SLURM_LOCALID                | first host of SLURM_JOB_NODELIST (or SLURM_NODELIST) | |
 * | Kubernetes Indexed Job | JOB_COMPLETION_INDEX | (GPUBENCH_WORLD_SIZE) |                            | (GPUBENCH_COORDINATOR)     |      |
 *
 * The port defaults to 29400 (GPUBENCH_COORDINATOR_PORT overrides) where the launcher
 * gives only a host.
 */

/** What the environment says about this process's place in the job. */
export interface LaunchInfo {
  launcher: 'explicit' | 'torchrun' | 'openmpi' | 'slurm' | 'kubernetes';
  rank?: number;
  size?: number;
  localRank?: number;
  /** ws://host:port of the coordinator, when the environment names it. */
  coordinator?: string;
}

/** Default coordinator port when a launcher gives only a host. */
export const DEFAULT_COORDINATOR_PORT = 29400;

const int = (v: string | undefined): number | undefined => {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
};

const wsUrl = (host: string, port: number): string => `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;

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
  const port = int(env.GPUBENCH_COORDINATOR_PORT) ?? DEFAULT_COORDINATOR_PORT;
  const explicit = env.GPUBENCH_COORDINATOR;
  if (env.GPUBENCH_RANK !== undefined || explicit)
    return { launcher: 'explicit', rank: int(env.GPUBENCH_RANK), size: int(env.GPUBENCH_WORLD_SIZE), localRank: int(env.GPUBENCH_LOCAL_RANK), coordinator: explicit };
  if (env.RANK !== undefined && env.WORLD_SIZE !== undefined)
    return {
      launcher: 'torchrun',
      rank: int(env.RANK),
      size: int(env.WORLD_SIZE),
      localRank: int(env.LOCAL_RANK),
      coordinator: env.MASTER_ADDR ? wsUrl(env.MASTER_ADDR, int(env.MASTER_PORT) ?? port) : undefined,
    };
  if (env.OMPI_COMM_WORLD_RANK !== undefined)
    return { launcher: 'openmpi', rank: int(env.OMPI_COMM_WORLD_RANK), size: int(env.OMPI_COMM_WORLD_SIZE), localRank: int(env.OMPI_COMM_WORLD_LOCAL_RANK) };
  if (env.SLURM_PROCID !== undefined) {
    const host = firstSlurmHost(env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST ?? '');
    return { launcher: 'slurm', rank: int(env.SLURM_PROCID), size: int(env.SLURM_NTASKS), localRank: int(env.SLURM_LOCALID), coordinator: host ? wsUrl(host, port) : undefined };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined)
    return { launcher: 'kubernetes', rank: int(env.JOB_COMPLETION_INDEX), size: int(env.GPUBENCH_WORLD_SIZE) };
  return undefined;
}
