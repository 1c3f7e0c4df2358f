/**
 * `gpubench fleet` finds a CPU-throttled node for real: a coordinator (`fleet --world-size 6`)
 * and six plain `gpubench worker` processes, one of them moved into a cgroup whose CPU
 * quota the kernel enforces as the timed phases begin. The throttled rank must be the one suspect (by its matmul,
 * and by its links), no healthy rank named, in 3 runs out of 3.
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
 * Fast settings: a small matmul (128³: ~4 ms of one core in plain JS, so a throttled rank's
 * samples still take a few hundred ms), small messages, few samples, no whole-group
 * all-reduce (every call waits for the throttled rank; test/fleet-local.test.ts runs it).
 */
const FAST = ['--matmul-size', '128', '--sample-ms', '200', '--warmup', '100', '--samples', '7', '--pair-bytes', '1M', '--pair-samples', '8', '--ping-samples', '20', '--allreduce-bytes', '0', '--memcpy', 'none', '--task-timeout', '60000'];
const N = 6;
const SLOW = 3;

const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-cpu-'));
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve(code ?? -1); })) };
}

describe.skipIf(missing !== undefined)(`gpubench fleet names a CPU-throttled worker${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('names rank 3 (5% of a core) and no healthy rank, 3 runs of 3', async () => {
    throttle = makeThrottle('fleet', 0.05);
    for (let run = 1; run <= 3; run++) {
      const t0 = performance.now();
      const port = await freePort();
      const json = join(dir, `run${run}.json`);
      const exclude = join(dir, `run${run}.exclude`);
      const fleet = startCli(['fleet', '--world-size', String(N), '--port', String(port), '--json', json, '--exclude-file', exclude, ...FAST], 80_000);
      clis.push(fleet);
      await fleet.waitFor(/listening on ws:/);
      const url = `ws://127.0.0.1:${port}`;
      const workers = Array.from({ length: N }, (_, r) => worker(url, r));
      // The quota starts as the timed matmuls do: a throttled start-up (imports at 5% of a
      // core take tens of seconds) would only make the test slow, not the verdict different.
      await fleet.waitFor(/matmul on every node at once/);
      writeFileSync(throttle!.procs, String(workers[SLOW]!.child.pid));
      const code = await fleet.exited;
      const codes = await Promise.all(workers.map((w) => w.exited));
      const r = JSON.parse(readFileSync(json, 'utf8'));
      const f = r.fleet;
      if (process.env.GPUBENCH_FLEET_KEEP) writeFileSync(join(process.env.GPUBENCH_FLEET_KEEP, `throttle-run${run}.json`), JSON.stringify(r));
      const named = [...new Set(f.suspects.flatMap((s: { ranks: number[] }) => s.ranks))];
      process.stderr.write(`run ${run}: ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${code}; phases ${JSON.stringify(f.phaseMs)}; matmul ms ${f.nodes.map((n: { medianMs: number }) => n.medianMs?.toFixed(0)).join(' ')}; suspects:\n${f.suspects.map((s: { evidence: string }) => `  ${s.evidence}`).join('\n')}\n`);
      expect(code, fleet.stderr()).toBe(1);
      expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
      expect(r.run.status).toBe('complete');
      expect(named).toEqual([SLOW]);
      expect(f.suspects.some((s: { via: string; ranks: number[] }) => s.via === 'node' && s.ranks[0] === SLOW)).toBe(true);
      // Every pair measured once, in n − 1 rounds.
      expect(f.pairs.links).toHaveLength((N * (N - 1)) / 2);
      expect(f.pairs.rounds).toBe(N - 1);
      expect(readFileSync(exclude, 'utf8').trim()).toBe(r.environment.nodes[SLOW].hostname);
    }
  }, 85_000);
});
