import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const cli = join(root, 'dist', 'cli.js');
const fixtures = join(root, 'test', 'fixtures', 'estimate');
const gpubench = (...args: string[]) => spawnSync(process.execPath, [cli, 'estimate', ...args], { cwd: root, encoding: 'utf8' });

beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { cwd: root });
});

describe('gpubench estimate, end to end', () => {
  it('--validate FILE --json OUT writes runs with predicted, published, assumed, errorPct and the MAPE', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gpubench-')), 'v.json');
    const r = gpubench('--validate', join(root, 'configs', 'published-runs.yaml'), '--json', out);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/MAPE/);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.runs.length).toBeGreaterThanOrEqual(10);
    expect(Object.keys(doc.mapeByFamily)).toEqual(expect.arrayContaining(["dense", "moe", "fsdp"]));
    for (const run of doc.runs) {
      expect(Object.keys(run)).toEqual(expect.arrayContaining(['id', 'predicted', 'published', 'assumed', 'errorPct']));
      expect(Object.keys(run.predicted)).toEqual(expect.arrayContaining(['tflopsPerGPU', 'mfu', 'iterationSeconds']));
    }
    // The dense family is the calibrated one; MoE and FSDP rows are there to be judged, not tuned.
    expect(doc.mapeByFamily.dense.mape).toBeLessThan(5);
    const errs = doc.runs.filter((r: { errorPct: number | null }) => r.errorPct !== null).map((r: { errorPct: number }) => Math.abs(r.errorPct));
    expect(doc.mape).toBeCloseTo(errs.reduce((a: number, b: number) => a + b, 0) / errs.length, 1);
  });

  it('a measured node → a 16k-GPU estimate with time to train, a 4.5 GW site and an all-reduce time', () => {
    const r = gpubench('--model', 'llama3-405b', '--cluster', 'h100-16k', '--recompute', 'full', '--measured', join(fixtures, 'results-h100.json'),
      '--train-tokens', '15.6T', '--site-power', '4.5GW', '--allreduce-bytes', '1G', '--json', '-');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema).toBe('gpubench.estimate/v1');
    expect(doc.inputs.cluster.gpus).toBe(16384);
    expect(doc.estimate.mfu).toBeGreaterThan(0.2);
    expect(doc.estimate.mfu).toBeLessThan(0.7);
    expect(doc.sources.gemm).toBe('measured');
    expect(doc.timeToTrain.days).toBeGreaterThan(10);
    expect(doc.site.gpus).toBeGreaterThan(1e6);
    expect(doc.site.facilityMW).toBeLessThanOrEqual(4500);
    expect(doc.allreduce.busbwGBps).toBeGreaterThan(0);
  });

  it('--search and --instances print tables', () => {
    const r = gpubench('--model', 'llama3-70b', '--gpus', '1024', '--search', '--top', '3', '--instances', '--train-tokens', '1T');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/search: \d+ layouts/);
    expect(r.stdout).toMatch(/aws-p5\.48xlarge/);
  });

  it('bad inputs exit 2 with the field named and no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [['--model', join(fixtures, 'bad-model.yaml')], /arch.*gpt, llama/],
      [['--model', 'llama3-70b', '--recompute', 'sometimes'], /--recompute.*none, selective, full/],
      [['--model', 'llama3-70b', '--tp', 'x'], /--tp/],
      [['--model', 'llama3-70b', '--gpu', 'Z9000'], /--gpu.*unknown GPU/],
      [['--model', 'no-such-model'], /--model/],
      [['--model', 'llama3-70b', '--site-power', 'lots'], /--site-power/],
      [['--model', 'llama3-70b', '--gpus', '1000'], /training\.dp/],
      [['--validate', join(fixtures, 'bad-runs.yaml')], /runs\[0\]\.training\.recompute/],
      [[], /--model/],
    ];
    for (const [args, re] of cases) {
      const r = gpubench(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a configuration that does not fit exits 2 and says what to change', () => {
    const r = gpubench('--model', 'gpt3-175b', '--cluster', 'a100-selene', '--gpus', '8', '--tp', '8', '--pp', '1', '--global-batch', '8');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/does not fit: .* GB per GPU needed/);
    expect(r.stderr).toMatch(/--recompute full/);
  });
});
