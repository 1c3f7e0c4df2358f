/**
 * A stand-in for the `gpubench` command that the launcher recipes run (their GPUBENCH
 * variable): for `worker` it sleeps (worldSize - 1 - rank) x 0.7 s, so the launcher's ranks
 * arrive in reverse order, and records "rank pid" before exec'ing the built CLI (exec keeps
 * the pid, so the results' nodes[].pid can be matched to the launcher's rank). Anything else
 * (the coordinator) runs the CLI at once.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './cli.js';

export interface RankWrapper {
  /** Value for GPUBENCH: the wrapper's path. */
  command: string;
  /** The recorded launcher rank → worker pid, once the workers have started. */
  pids(): Map<number, number>;
}

/** Writes the wrapper into `dir`; `rankVar` is the launcher's rank variable (SLURM_PROCID, OMPI_COMM_WORLD_RANK). */
export function writeRankWrapper(dir: string, rankVar: string, worldSize: number): RankWrapper {
  const command = join(dir, 'gpubench-wrapper.sh');
  const log = join(dir, 'worker-pids.txt');
  writeFileSync(
    command,
    `#!/bin/sh
if [ "$1" = worker ]; then
  r=\${${rankVar}:?no ${rankVar}}
  d=$(( (${worldSize - 1} - r) * 7 ))
  sleep "$((d / 10)).$((d % 10))"
  echo "$r $$" >> '${log}'
fi
exec '${process.execPath}' '${CLI}' "$@"
`,
  );
  chmodSync(command, 0o755);
  const pids = () => {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // no worker started
    }
    return new Map(text.trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number) as [number, number]));
  };
  return { command, pids };
}
