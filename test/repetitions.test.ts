/**
 * Interleaved repetitions (`gpubench run --repetitions N`): the round order (plan order, then
 * seeded shuffles), the merge (the median round, a bad round ends the case), and real runs of
 * the CLI: every round on disk as it ends, the results in plan order, a kernel that turns
 * wrong in its second round failing the case, and a run stopped between rounds keeping the
 * rounds it has.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeRepetitions, roundOrder } from '../src/harness/repetitions.js';
import type { CaseResult, ResultsFile } from '../src/harness/results/schema.js';
import { summarize } from '../src/reporters/cases.js';
import { gpubench, startCli } from './helpers/cli.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'gpubench-repetitions-'));
  dirs.push(d);
  return d;
}

/** An ok case whose samples all take `ms`. */
function round(ms: number, extra: Partial<CaseResult> = {}): CaseResult {
  const s = [ms * 0.99, ms, ms * 1.01];
  return { id: 'matmul/x/f32/8x8x8', workload: 'matmul', backend: 'x', device: 'd', params: {}, samplesMs: s, stats: summarize(s), metrics: { tflops: 1 / ms }, status: 'ok', ...extra };
}

/** The JSONL events of a results file. */
function events(json: string): Array<Record<string, unknown> & { type: string }> {
  return readFileSync(json.replace(/\.json$/, '.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
}

describe('round order', () => {
  it('plan order first, then a seeded permutation per round', () => {
    expect(roundOrder(6, 0, 42)).toEqual([0, 1, 2, 3, 4, 5]);
    const orders = [1, 2, 3, 4].map((r) => roundOrder(10, r, 42));
    for (const o of orders) expect([...o].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(roundOrder(10, 1, 42)).toEqual(orders[0]);
    // Ten cases: four rounds in one order, or one round left unshuffled, would be a broken shuffle.
    expect(new Set(orders.map((o) => o.join())).size).toBe(4);
    expect(orders.some((o) => o.join() === [...Array(10).keys()].join())).toBe(false);
    expect(roundOrder(10, 1, 43)).not.toEqual(orders[0]);
  });
});

describe('merging the rounds of a case', () => {
  it('keeps the median round whole, with every round\'s median', () => {
    const rounds = [round(3), round(9), round(4)];
    const m = mergeRepetitions(rounds, 3);
    expect(m.stats!.medianMs).toBe(4);
    expect(m.metrics.tflops).toBe(1 / 4);
    expect(m.repetitions).toEqual({ planned: 3, medianMs: [3, 9, 4], chosen: 2 });
    // An even count takes the lower middle one: the faster of the two in the middle.
    expect(mergeRepetitions([round(5), round(2), round(7), round(4)], 4).repetitions!.chosen).toBe(3);
    // One round of one planned is the round itself.
    expect(mergeRepetitions([round(2)], 1)).toEqual(round(2));
  });

  it('a round that failed is the case\'s result, saying which round', () => {
    const bad = round(3, { status: 'failed', reason: 'wrong result: 1 wrong' });
    const m = mergeRepetitions([round(3), bad], 3);
    expect(m.status).toBe('failed');
    expect(m.reason).toBe('repetition 2 of 3: wrong result: 1 wrong');
    expect(mergeRepetitions([round(1, { status: 'skipped', reason: 'no f16' })], 3).reason).toBe('no f16');
  });
});

describe('gpubench run --repetitions (real runs)', () => {
  it('measures every case once per round, keeps each round on disk, and writes the median round in plan order', () => {
    const json = join(tmp(), 'rep.json');
    const r = gpubench(['run', '--backends', 'tfjs-cpu', '--workloads', 'matmul', '--sizes', '16,32,48', '--dtypes', 'f32', '--min-time', '20', '--warmup', '10', '--repetitions', '3', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    // The console's line per case: once, after its last round, with every round's median.
    expect(stripVTControlCharacters(r.stderr).match(/^ok matmul\/tfjs-cpu\S+ .*\[round [123] of 3: [\d.]+, [\d.]+, [\d.]+ ms\]/gm)).toHaveLength(3);
    const res = JSON.parse(readFileSync(json, 'utf8')) as ResultsFile;
    expect(res.run.repetitions).toMatchObject({ rounds: 3 });
    expect(res.cases.map((c) => c.id)).toEqual(['matmul/tfjs-cpu/f32/16x16x16', 'matmul/tfjs-cpu/f32/32x32x32', 'matmul/tfjs-cpu/f32/48x48x48']);
    const reps = events(json).filter((e) => e.type === 'repetition');
    expect(reps).toHaveLength(9);
    for (const c of res.cases) {
      expect(c.status).toBe('ok');
      const rec = c.repetitions!;
      expect(rec.planned).toBe(3);
      expect(rec.medianMs).toHaveLength(3);
      const sorted = [...rec.medianMs].sort((a, b) => a - b);
      expect(c.stats!.medianMs).toBe(sorted[1]);
      expect(rec.medianMs[rec.chosen]).toBe(c.stats!.medianMs);
      // Each round's own record, as it was written when the round ended, in the order they ran.
      const own = reps.filter((e) => e.id === c.id);
      expect(own.map((e) => e.round)).toEqual([0, 1, 2]);
      expect(own.map((e) => (e.stats as { medianMs: number }).medianMs)).toEqual(rec.medianMs);
    }
    // Round 1 ran in plan order; the lines say what order the later rounds took.
    expect(reps.slice(0, 3).map((e) => e.id)).toEqual(res.cases.map((c) => c.id));
  });

  it('rounds of a collective across worker processes: each round is a case on every rank', () => {
    const json = join(tmp(), 'ranks.json');
    const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '1K', '-e', '4K', '-f', '4', '--min-time', '30', '--warmup', '20',
      '--repetitions', '2', '--json', json, '--reporter', 'silent'], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(json, 'utf8')) as ResultsFile;
    expect(res.cases.map((c) => c.id)).toEqual(['allreduce/ws/f32/sum/auto/1024/r2h1', 'allreduce/ws/f32/sum/auto/4096/r2h1']);
    for (const c of res.cases) {
      expect(c).toMatchObject({ status: 'ok', check: { passed: true }, repetitions: { planned: 2 } });
      expect(c.repetitions!.medianMs).toHaveLength(2);
      expect(c.ranks).toHaveLength(2);
    }
    // The workers ran every round: 2 cases × 2 rounds.
    expect(r.stderr).toMatch(/worker rank 1: done: 4 cases/);
  });

  it('a kernel that turns wrong in its second round fails the case, which is not run a third time', () => {
    const json = join(tmp(), 'later.json');
    const r = gpubench(['run', '--plugin', 'test/fixtures/bad-kernels.plugin.mjs', '--backends', 'test-wrong-later,tfjs-cpu', '--workloads', 'matmul', '--sizes', '16', '--dtypes', 'f32',
      '--min-time', '20', '--warmup', '10', '--repetitions', '3', '--json', json, '--reporter', 'silent']);
    expect(r.code, r.stderr).toBe(1);
    const res = JSON.parse(readFileSync(json, 'utf8')) as ResultsFile;
    const byBackend = Object.fromEntries(res.cases.map((c) => [c.backend, c]));
    expect(byBackend['test-wrong-later']).toMatchObject({ status: 'failed', check: { passed: false, wrong: 1 } });
    expect(byBackend['test-wrong-later']!.reason).toMatch(/^repetition 2 of 3: wrong result/);
    expect(byBackend['tfjs-cpu']).toMatchObject({ status: 'ok', repetitions: { planned: 3 } });
    const rounds = events(json).filter((e) => e.type === 'repetition' && e.backend === 'test-wrong-later');
    expect(rounds.map((e) => e.status)).toEqual(['ok', 'failed']);
  });

  it('a run stopped between rounds keeps the rounds it has, and says how many', async () => {
    const json = join(tmp(), 'stopped.json');
    const cli = startCli(['run', '--backends', 'tfjs-cpu', '--workloads', 'matmul', '--sizes', '16,32', '--dtypes', 'f32', '--min-time', '30', '--warmup', '10', '--repetitions', '100', '--json', json, '--reporter', 'silent'], 120_000);
    const jsonl = json.replace(/\.json$/, '.jsonl');
    // Stop once the second round is under way (bounded: the run itself has a 120 s limit).
    for (let i = 0; i < 1200; i++) {
      if (existsSync(jsonl) && events(json).some((e) => e.type === 'repetition' && (e.round as number) >= 1)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    cli.child.kill('SIGINT');
    const code = await cli.exited;
    expect(code, cli.stderr()).toBe(130);
    const res = JSON.parse(readFileSync(json, 'utf8')) as ResultsFile;
    expect(res.run.status).toBe('partial');
    expect(res.cases.map((c) => c.id)).toEqual(['matmul/tfjs-cpu/f32/16x16x16', 'matmul/tfjs-cpu/f32/32x32x32']);
    for (const c of res.cases) {
      expect(c.status).toBe('ok');
      expect(c.repetitions!.planned).toBe(100);
      expect(c.repetitions!.medianMs.length).toBeGreaterThanOrEqual(1);
      expect(c.repetitions!.medianMs.length).toBeLessThan(100);
    }
  }, 130_000);
});
