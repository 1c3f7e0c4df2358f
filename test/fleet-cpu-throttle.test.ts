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

/** What one `fleet` run gave: its exit codes, results file, the ranks it named, and its log. */
interface FleetRun {
  code: number;
  codes: number[];
  r: { run: { status: string }; environment: { nodes: { hostname: string }[] }; fleet: Fleet };
  named: number[];
  exclude: string;
  log: string;
}
interface Fleet {
  suspects: { ranks: number[]; via: string; evidence: string }[];
  nodes: { medianMs: number | null }[];
  phaseMs: Record<string, number>;
  pairs: { links: { a: number; b: number; first?: unknown }[]; rounds: number };
}

/**
 * One coordinator and N workers; `during` is called once the workers are spawned, with them
 * and the coordinator, to set its fault going as the run reaches the right phase.
 */
async function runOnce(name: string, during: (fleet: StartedCli, workers: { child: ChildProcess }[]) => Promise<void>): Promise<FleetRun> {
  const t0 = performance.now();
  const port = await freePort();
  const json = join(dir, `${name}.json`);
  const exclude = join(dir, `${name}.exclude`);
  const fleet = startCli(['fleet', '--world-size', String(N), '--port', String(port), '--json', json, '--exclude-file', exclude, ...FAST], 80_000);
  clis.push(fleet);
  await fleet.waitFor(/listening on ws:/);
  const workers = Array.from({ length: N }, (_, r) => worker(`ws://127.0.0.1:${port}`, r));
  // A fault that never got going fails the run after its results and log are read.
  const faultError = await during(fleet, workers).then(() => undefined, (e: unknown) => e);
  const code = await fleet.exited;
  const codes = await Promise.all(workers.map((w) => w.exited));
  const r = JSON.parse(readFileSync(json, 'utf8')) as FleetRun['r'];
  const f = r.fleet;
  if (process.env.GPUBENCH_FLEET_KEEP) writeFileSync(join(process.env.GPUBENCH_FLEET_KEEP, `throttle-${name}.json`), JSON.stringify(r));
  const named = [...new Set(f.suspects.flatMap((s) => s.ranks))];
  const again = fleet.stderr().split('\n').filter((l) => /again/.test(l)).join('\n');
  const log = `${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${code}; phases ${JSON.stringify(f.phaseMs)}; matmul ms ${f.nodes.map((n) => n.medianMs?.toFixed(0)).join(' ')}; suspects:\n${f.suspects.map((s) => `  ${s.evidence}`).join('\n')}${again ? `\n${again}` : ''}\n`;
  process.stderr.write(log);
  if (faultError) throw new Error(`${name}: ${faultError instanceof Error ? faultError.message.split('\n')[0] : String(faultError)}\n${log}`);
  return { code, codes, r, named, exclude: readFileSync(exclude, 'utf8').trim(), log };
}

describe.skipIf(missing !== undefined)(`gpubench fleet names a CPU-throttled worker${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('names rank 3 (5% of a core) and no healthy rank, 3 runs of 3', async () => {
    throttle = makeThrottle('fleet', 0.05);
    for (let run = 1; run <= 3; run++) {
      // The quota starts as the timed matmuls do: a throttled start-up (imports at 5% of a
      // core take tens of seconds) would only make the test slow, not the verdict different.
      const x = await runOnce(`run${run}`, async (fleet, workers) => {
        await fleet.waitFor(/matmul on every node at once/);
        writeFileSync(throttle!.procs, String(workers[SLOW]!.child.pid));
      });
      expect(x.code, x.log).toBe(1);
      expect(x.codes).toEqual([0, 0, 0, 0, 0, 0]);
      expect(x.r.run.status).toBe('complete');
      expect(x.named, x.log).toEqual([SLOW]);
      expect(x.r.fleet.suspects.some((s) => s.via === 'node' && s.ranks[0] === SLOW)).toBe(true);
      // Every pair measured once, in n − 1 rounds.
      expect(x.r.fleet.pairs.links).toHaveLength((N * (N - 1)) / 2);
      expect(x.r.fleet.pairs.rounds).toBe(N - 1);
      expect(x.exclude).toBe(x.r.environment.nodes[SLOW]!.hostname);
    }
  }, 85_000);

  it('measures again the rounds of a node whose links were slow for a while, and clears it when they are not', async () => {
    // Rank 5 at 1% of a core through the first look at the links only: every link of it
    // slow, so it is blamed; released as its rounds are measured again, so the second look clears it.
    throttle ??= makeThrottle('fleet', 0.05);
    const passing = makeThrottle('fleet-passing', 0.01);
    try {
      const x = await runOnce('passing', async (fleet, workers) => {
        await fleet.waitFor(/matmul on every node at once/);
        writeFileSync(throttle!.procs, String(workers[SLOW]!.child.pid));
        await fleet.waitFor(/phase 2\/3: pairs, round 1\//);
        writeFileSync(passing.procs, String(workers[5]!.child.pid));
        await fleet.waitFor(/rank 5's links looked \d+% slow: measuring \d+ of its rounds again/);
        passing.release(workers[5]!.child.pid!);
      });
      expect(x.code, x.log).toBe(1);
      expect(x.named, x.log).toEqual([SLOW]);
      // The first look is kept beside the second, on the links of the rounds measured again.
      const again = x.r.fleet.pairs.links.filter((l) => l.first !== undefined);
      expect(again.some((l) => l.a === 5 || l.b === 5), x.log).toBe(true);
    } finally {
      passing.remove();
    }
  }, 60_000);
});
