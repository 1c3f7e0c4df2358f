/**
 * The live progress line: the ETA arithmetic on an explicit clock (no timing), and the
 * real line on a real pseudo-terminal (util-linux `script`): a case in a long warm-up
 * shows its phase and the seconds ticking, autotuning says so, and the run's elapsed
 * time and ETA are on every line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MEASURE } from '../src/harness/measure.js';
import { clock, RunClock } from '../src/reporters/progress.js';
import { CLI, ROOT } from './helpers/cli.js';

describe('run ETA', () => {
  const measure = { ...DEFAULT_MEASURE, warmupMs: 2000, minTimeMs: 3000 };

  it('starts from the plan\'s budget, then follows the cases that ran', () => {
    const run = new RunClock(4, 0, measure);
    run.caseStarted(0);
    // Nothing done yet: 3 more cases of warm-up + min-time (5 s each), and this one's 5 s.
    expect(run.remaining(0, true)).toBe(20_000);
    run.phase('warm-up', 1000);
    expect(run.currentPhase).toBe('warm-up');
    // Past its budget but still warming up: at least min-time is left for this case.
    expect(run.remaining(9000, true)).toBe(15_000 + 3000);
    run.phase('samples', 9000);
    expect(run.phaseElapsed(10_000)).toBe(1000);
    expect(run.remaining(10_000, true)).toBe(15_000 + 2000);
    run.caseEnded(12_000);
    // One case took 12 s: the other three are expected to as well.
    run.caseStarted(12_000);
    expect(run.remaining(12_000, true)).toBe(2 * 12_000 + 12_000);
    expect(run.elapsed(30_000)).toBe(30_000);
  });

  it('counts no time for skipped cases, and knows nothing without a budget or a finished case', () => {
    const run = new RunClock(1, 0, measure);
    run.caseStarted(0);
    run.phase('samples', 4000);
    expect(run.remaining(5000, true)).toBe(2000);
    expect(run.remaining(8000, true)).toBe(0);
    const blind = new RunClock(3, 0);
    blind.caseStarted(0);
    expect(blind.remaining(1000, true)).toBeUndefined();
  });

  it('writes durations as a clock', () => {
    expect([clock(0), clock(75_000), clock(3_725_000), clock(-5)]).toEqual(['0:00', '1:15', '1:02:05', '0:00']);
  });
});

const haveScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!haveScript)(`the live line on a terminal${haveScript ? '' : ' (skipped: util-linux `script` not found)'}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpubench-progress-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows autotune, a ticking warm-up, the samples, and the run\'s elapsed time and ETA for matmul cases', () => {
    const json = join(dir, 'tty.json');
    // A fresh autotune cache, so the WebGPU kernel times its tile candidates; a 2.5 s minimum warm-up.
    const cmd = `stty rows 40 cols 200; ${process.execPath} ${CLI} run --backends webgpu,tfjs-cpu --sizes 128 --dtypes f32 --json ${json} ` +
      '--min-time 300 --warmup 2500 --max-warmup 2500';
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      cwd: ROOT, encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, CI: '', GPUBENCH_AUTOTUNE_CACHE: join(dir, 'autotune.json'), GPUBENCH_AUTOTUNE: '' },
    });
    expect(r.status, r.stdout).toBe(0);
    const lines = stripVTControlCharacters(r.stdout).split(/\r|\n/).filter((l) => l.startsWith('['));
    const tail = / +· run \d+:\d\d, ETA ~\d+:\d\d$/;
    const web = lines.filter((l) => l.startsWith('[1/2] matmul/webgpu/f32/128x128x128 '));
    const cpu = lines.filter((l) => l.startsWith('[2/2] matmul/tfjs-cpu/f32/128x128x128 '));
    for (const l of [...web, ...cpu]) expect(l).toMatch(tail);
    expect(web.some((l) => / autotune \d+ s /.test(l)), web.join('\n')).toBe(true);
    // The phases come in order, and the warm-up's seconds tick while no sample is taken.
    const order = (ls: string[]) => [...new Set(ls.map((l) => / (setup|autotune|check|warm-up|samples) \d+ s/.exec(l)?.[1]).filter(Boolean))];
    expect(order(web)).toEqual(['setup', 'autotune', 'check', 'warm-up', 'samples']);
    expect(order(cpu)).toEqual(['setup', 'check', 'warm-up', 'samples']);
    // 128³ on tfjs-cpu takes milliseconds a call, so its warm-up lasts the full 2.5 s (a fast WebGPU case may stop at 1000 calls).
    expect(cpu.some((l) => / warm-up [12] s +· run/.test(l)), cpu.join('\n')).toBe(true);
    expect(cpu.some((l) => / samples \d+ s +sample \d+ +· run/.test(l))).toBe(true);
  }, 150_000);
});
