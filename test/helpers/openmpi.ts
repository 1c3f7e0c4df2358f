/** Whether Open MPI's mpirun (and openssl, which the recipe uses for its token) is here. */
import { spawnSync } from 'node:child_process';
import { skipReason, which } from './launcher-skip.js';

/**
 * Why the Open MPI tests cannot run here (no mpirun, an mpirun that is not Open MPI's, no
 * openssl), with the fix; undefined when they can, or when `GPUBENCH_REQUIRE_CLUSTER=1`
 * makes them run and fail.
 */
export function openmpiMissing(): string | undefined {
  const problems: string[] = [];
  const mpirun = which('mpirun');
  if (!mpirun) problems.push('mpirun not installed');
  else {
    const v = spawnSync(mpirun, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (!/Open MPI|OpenRTE/i.test(`${v.stdout}${v.stderr}`)) problems.push(`${mpirun} is not Open MPI's (${(v.stdout || v.stderr || '').split('\n')[0]})`);
  }
  if (!which('openssl')) problems.push('openssl not installed');
  return skipReason('the Open MPI tests', problems, '`scripts/install-system-deps.sh` (apt-get install openmpi-bin openssl)');
}
