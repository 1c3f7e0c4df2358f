/**
 * A CPU quota for one test process, through its cgroup: `cpu.max` on cgroup v2, or
 * `cpu.cfs_quota_us` on a v1 `cpu` hierarchy. The quota is a real limit the kernel
 * enforces (the process runs at most `fraction` of one core per 100 ms period), not a hint.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/cpu';
const PERIOD_US = 100_000;

/** Whether a cgroup with a CPU quota can be made here; undefined when it can, else why not and the fix. */
export function cpuThrottleMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: a CPU quota needs a cgroup of our own (run the tests as root, as CI does)';
  if (v2Ready()) return undefined;
  if (existsSync(join(V1, 'cpu.cfs_quota_us'))) return undefined;
  return 'no cgroup with a cpu controller: neither cgroup v2 with +cpu in cgroup.subtree_control nor a v1 cpu hierarchy at /sys/fs/cgroup/cpu';
}

function v2Ready(): boolean {
  try {
    return readFileSync(join(V2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu');
  } catch {
    return false;
  }
}

/** A cgroup with a CPU quota. */
export interface Throttle {
  /** Its cgroup.procs: a process that writes its pid here is throttled (with its children). */
  procs: string;
  /** Moves a process back out to the hierarchy's root, unthrottled (a fault that passes). */
  release(pid: number): void;
  /** Removes the cgroup (its processes must have exited or been released). */
  remove(): void;
}

/**
 * Makes a cgroup limited to `fraction` of one core per `periodUs` (100 ms, the kernel's
 * default; down to 1 ms). A long period bites in bursts (a call that fits the quota runs at
 * full speed, the next waits out the period); a short one slows every call of more than a
 * few periods alike.
 */
export function makeThrottle(name: string, fraction: number, periodUs = PERIOD_US): Throttle {
  const v2 = v2Ready();
  if (v2) {
    // Children of the root get the cpu controller only if the root delegates it.
    try {
      writeFileSync(join(V2, 'cgroup.subtree_control'), '+cpu');
    } catch {
      // already delegated, or not allowed: mkdir + cpu.max below says which
    }
  }
  const dir = join(v2 ? V2 : V1, `gpubench-test-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const quota = Math.max(1000, Math.round(fraction * periodUs));
  if (v2) writeFileSync(join(dir, 'cpu.max'), `${quota} ${periodUs}`);
  else {
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
  }
  return {
    procs: join(dir, 'cgroup.procs'),
    release(pid: number) {
      writeFileSync(join(v2 ? V2 : V1, 'cgroup.procs'), String(pid));
    },
    remove() {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch {
          // still has a process that is exiting: wait a moment (bounded)
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        }
      }
    },
  };
}
