/**
 * Skip-or-fail for the tests that drive real launchers (Slurm, Open MPI). Where the machine
 * lacks a package or root they are skipped with the reason and the fix; in CI
 * (`GPUBENCH_REQUIRE_CLUSTER=1`) nothing is skipped, so a missing launcher fails the tests
 * instead of letting CI go green without them.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const REQUIRE_CLUSTER = process.env.GPUBENCH_REQUIRE_CLUSTER === '1';

/** Absolute path of `cmd` on PATH (plus the sbin directories root's PATH may lack), or undefined. */
export function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs.filter(Boolean)) {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return join(d, cmd);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The reason to skip (`what`: the tests; `problems`: what is missing; `fix`: what to do), or
 * undefined when nothing is missing or when `GPUBENCH_REQUIRE_CLUSTER=1` says to run and fail.
 */
export function skipReason(what: string, problems: string[], fix: string): string | undefined {
  if (problems.length === 0 || REQUIRE_CLUSTER) return undefined;
  const reason = `${problems.join('; ')}; fix: ${fix}`;
  console.warn(`skipping ${what}: ${reason}`);
  return reason;
}
