/**
 * A rank that dies or hangs during `gpubench fleet` is named in the verdict, and the run
 * finishes for the rest: five plain workers; rank 2 is killed (SIGKILL) as the matmul
 * samples begin, rank 4 stopped (SIGSTOP: alive, silent) at the same moment. Both are
 * named as lost (dead: its connection closed; hung: no heartbeat, or past the task
 * deadline), the other ranks' matmuls and the links among them are measured, the results
 * are complete and the exit code is 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, startCli, type StartedCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';

const N = 5;
const DEAD = 2;
const HUNG = 4;
const FAST = ['--matmul-size', '128', '--sample-ms', '200', '--warmup', '100', '--samples', '5', '--memcpy', 'none', '--pair-bytes', '256K', '--pair-samples', '6', '--ping-samples', '20',
  '--heartbeat-timeout', '4000', '--task-timeout', '6000'];
const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-lost-'));
const started: ChildProcess[] = [];
let fleet: StartedCli | undefined;

afterAll(() => {
  for (const c of [...started, ...(fleet ? [fleet.child] : [])]) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('gpubench fleet with a rank lost on the way', () => {
  it('names the dead and the hung rank and finishes the run for the rest', async () => {
    const port = await freePort();
    const json = join(dir, 'lost.json');
    fleet = startCli(['fleet', '--world-size', String(N), '--port', String(port), '--json', json, ...FAST], 80_000);
    await fleet.waitFor(/listening on ws:/);
    const workers = Array.from({ length: N }, (_, r) => {
      const child = spawn(process.execPath, [CLI, 'worker', '--coordinator', `ws://127.0.0.1:${port}`], {
        cwd: ROOT, env: { ...process.env, GPUBENCH_RANK: String(r), GPUBENCH_WORLD_SIZE: String(N), GPUBENCH_LOCAL_RANK: String(r) }, stdio: ['ignore', 'ignore', 'ignore'],
      });
      started.push(child);
      return child;
    });
    await fleet.waitFor(/matmul on every node at once/);
    workers[DEAD]!.kill('SIGKILL');
    workers[HUNG]!.kill('SIGSTOP');
    const code = await fleet.exited;
    const r = JSON.parse(readFileSync(json, 'utf8'));
    const f = r.fleet;
    process.stderr.write(`exit ${code}; lost ${JSON.stringify(f.lost)}; suspects:\n${f.suspects.map((s: { evidence: string }) => `  ${s.evidence}`).join('\n')}\n`);
    expect(code, fleet.stderr()).toBe(1);
    expect(r.run.status).toBe('complete');
    expect(f.lost.map((l: { rank: number }) => l.rank).sort()).toEqual([DEAD, HUNG]);
    expect(f.lost.find((l: { rank: number }) => l.rank === DEAD).reason).toMatch(/connection closed|exited/);
    expect(f.lost.find((l: { rank: number }) => l.rank === HUNG).reason).toMatch(/no heartbeat|hung/);
    const lost = f.suspects.filter((s: { via: string }) => s.via === 'lost').map((s: { ranks: number[] }) => s.ranks[0]).sort();
    expect(lost).toEqual([DEAD, HUNG]);
    expect(fleet.stderr()).toMatch(/SUSPECT lost: rank 2 \(/);
    // The others were measured: their matmuls, and every link among them.
    for (const rank of [0, 1, 3]) expect(f.nodes[rank].samplesMs.length).toBe(5);
    const among = f.pairs.links.filter((l: { a: number; b: number }) => ![DEAD, HUNG].includes(l.a) && ![DEAD, HUNG].includes(l.b));
    expect(among).toHaveLength(3);
    for (const l of among) expect(l.bandwidthMBps.length).toBe(6);
    // No healthy rank is named.
    expect([...new Set(f.suspects.flatMap((s: { ranks: number[] }) => s.ranks))].sort()).toEqual([DEAD, HUNG]);
    expect(f.allreduce.skipped).toMatch(/lost/);
    // The surviving workers end normally.
    const exits = await Promise.all([0, 1, 3].map((i) => new Promise<number | null>((res) => (workers[i]!.exitCode !== null ? res(workers[i]!.exitCode) : workers[i]!.once('exit', (c) => res(c))))));
    expect(exits).toEqual([0, 0, 0]);
  }, 85_000);
});
