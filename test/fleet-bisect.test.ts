/**
 * Bisection for real: the whole-group ring all-reduce is slow against what the pairs
 * predict, no pair is suspect, and the bisection localises the slow subgroup. The fault:
 * rank 3 of six plain workers is moved into a cgroup with a CPU quota of 2% of a core (`cpu.max`, 50 ms periods) as the
 * all-reduce phase begins — a node that measures fine alone and in pairs but slows under
 * sustained load, as a GPU does when it heats up. Its matmul and links were measured before,
 * healthy; the bisection (halves 0-2 | 3-5, then 0,1 | 3,4 at once) must name a subgroup
 * holding rank 3 and nothing else, with no node or link suspect; 2 runs of 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, startCli, type StartedCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { cpuThrottleMissing, makeThrottle, type Throttle } from './helpers/cpu-throttle.js';

const REQUIRE = process.env.GPUBENCH_REQUIRE_CLUSTER === '1';
const missing = cpuThrottleMissing();
if (missing && REQUIRE) throw new Error(`GPUBENCH_REQUIRE_CLUSTER=1 but the CPU throttle test cannot run: ${missing}`);

/**
 * Fast settings: a small matmul, small messages, few samples. A 4 MiB all-reduce: each of a
 * half's samples must need more CPU on the throttled rank than one period's 1 ms of quota, or
 * some run at full speed (at 1 MiB a CI run saw the halves 24× apart with p = 0.045). Latency
 * is not this test's subject: a latency floor of 1 ms keeps a healthy loopback link's 54 µs
 * gap (seen here once, confirmed alone) from being the second suspect.
 */
const FAST = ['--latency-floor', '1000', '--matmul-size', '128', '--sample-ms', '200', '--warmup', '100', '--samples', '6', '--pair-bytes', '1M', '--pair-samples', '8', '--ping-samples', '20', '--allreduce-bytes', '4M', '--memcpy', 'none', '--task-timeout', '60000'];
const N = 6;
const SLOW = 3;

const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-bisect-'));
const started: ChildProcess[] = [];
const clis: StartedCli[] = [];
let throttle: Throttle | undefined;

afterAll(() => {
  for (const c of [...started, ...clis.map((x) => x.child)]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  throttle?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** One `gpubench worker` with a fixed rank (the explicit launcher's variables). */
function worker(url: string, rank: number): { child: ChildProcess; exited: Promise<number> } {
  const env = { ...process.env, GPUBENCH_RANK: String(rank), GPUBENCH_WORLD_SIZE: String(N), GPUBENCH_LOCAL_RANK: String(rank) };
  const child = spawn(process.execPath, [CLI, 'worker', '--coordinator', url, '--connect-timeout', '20000'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'ignore'] });
  started.push(child);
  // A run takes 80–120 s on this VM (the throttled rank's 4 MiB samples take seconds): room for a slower host.
  const timer = setTimeout(() => child.kill('SIGKILL'), 270_000);
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve(code ?? -1); })) };
}

// The fault: 2% of a core in 50 ms periods (1 ms of CPU each), so every 4 MiB all-reduce sample
// of the throttled half waits out several periods (27–36× slower here, 4 runs of 4). Tried in CI
// dry runs: with the kernel's 100 ms period it bit in bursts (a call that fit the quota ran at
// full speed); 5% in 20 ms periods at 1 MiB passed once, then level 1 was only 7× apart, under 5
// MADs of the halves' scatter; 2% at 1 MiB: 24× apart but overlapping (p = 0.045); 2% at 4 MiB
// passed once (runs of 120 s and 79 s), then the rank starved past its 30 s heartbeat.
// Opt-in (GPUBENCH_FLEET_BISECT=1): on a 2-core host the CPU fault is either too weak for the
// halves' scatter or starves the rank. Of the settings tried, each localised the fault in every
// run at rest here, but none passed two CI dry runs in a row (see the comment above and
// docs/fleet.md); a fault that bites every call without starving the process (a tbf shaper on
// the namespace cluster switched on as the all-reduce phase begins) is the next thing to try.
const optIn = process.env.GPUBENCH_FLEET_BISECT === '1';
describe.skipIf(missing !== undefined || !optIn)(`gpubench fleet bisects a slow whole-group all-reduce${missing ? ` (skipped: ${missing})` : !optIn ? ' (skipped: opt-in with GPUBENCH_FLEET_BISECT=1: the CPU fault is not reliable on a 2-core CI host)' : ''}`, () => {
  it('localises the subgroup of a rank throttled during the all-reduce, 2 runs of 2', async () => {
    throttle = makeThrottle('fleet-bisect', 0.02, 50_000);
    for (let run = 1; run <= 2; run++) {
      const t0 = performance.now();
      const port = await freePort();
      const json = join(dir, `run${run}.json`);
      const fleet = startCli(['fleet', '--world-size', String(N), '--port', String(port), '--json', json, ...FAST], 280_000);
      clis.push(fleet);
      await fleet.waitFor(/listening on ws:/);
      const url = `ws://127.0.0.1:${port}`;
      const workers = Array.from({ length: N }, (_, r) => worker(url, r));
      await fleet.waitFor(/phase 3\/3: ring all-reduce/);
      writeFileSync(throttle!.procs, String(workers[SLOW]!.child.pid));
      const code = await fleet.exited;
      await Promise.all(workers.map((w) => w.exited));
      // Out of the cgroup's procs as the process is gone: nothing to undo between runs.
      const r = JSON.parse(readFileSync(json, 'utf8'));
      const f = r.fleet;
      if (process.env.GPUBENCH_FLEET_KEEP) writeFileSync(join(process.env.GPUBENCH_FLEET_KEEP, `bisect-run${run}.json`), JSON.stringify(r));
      const levels = (f.bisection?.levels ?? []).map((l: { judged: { ranks: number[]; value: number; slowdown: number; p: number }[] }) => l.judged.map((j) => `${j.ranks.join(',')}: ${j.value.toPrecision(3)} GB/s (${(100 * j.slowdown).toFixed(0)}%, p=${j.p.toPrecision(2)})`).join(' | '));
      process.stderr.write(`run ${run}: ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${code}; phases ${JSON.stringify(f.phaseMs)}; ring ${JSON.stringify(f.allreduce.predicted)}; levels:\n  ${levels.join('\n  ')}\nsuspects:\n${f.suspects.map((s: { evidence: string }) => `  ${s.evidence}`).join('\n')}\n`);
      expect(code, fleet.stderr()).toBe(1);
      expect(r.run.status).toBe('complete');
      expect(f.allreduce.predicted.slow).toBe(true);
      expect(f.bisection.skipped).toBeUndefined();
      expect(f.bisection.localised).toContain(SLOW);
      expect(f.bisection.localised.length).toBeLessThan(N / 2 + 1);
      // The one suspect is the subgroup, found by bisection; no node, no link.
      expect(f.suspects).toHaveLength(1);
      expect(f.suspects[0]).toMatchObject({ kind: 'group', via: 'bisection', ranks: f.bisection.localised });
      expect(f.suspects[0].evidence).toMatch(/ring all-reduce busbw .* slower/);
    }
  }, 600_000);
});
