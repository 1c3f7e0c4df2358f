import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadSuite, suiteDir, validateSuite } from '../src/harness/suite.js';
import { UsageError } from '../src/harness/errors.js';
import '../src/kernels/index.js';
import { gpubench } from './helpers/cli.js';

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('suite validation', () => {
  it('accepts every built-in suite', () => {
    for (const f of readdirSync(suiteDir()).filter((x) => x.endsWith('.yaml'))) {
      const s = loadSuite(join(suiteDir(), f));
      expect(s.workloads.length).toBeGreaterThan(0);
    }
    expect(loadSuite('default').name).toBe('default');
  });

  it('fills defaults: measurement knobs, dtypes, batch, kernels', () => {
    const s = validateSuite({ name: 'x', workloads: [{ workload: 'matmul', sizes: [8] }] }, 'inline');
    expect(s.measure.minSamples).toBe(5);
    expect(s.workloads[0]).toMatchObject({ dtypes: ['f32'], batch: 1, kernels: ['auto'] });
  });

  it('names the field and the allowed values of each bad entry', () => {
    const msg = usageMessage(() => validateSuite({ name: 'x', workloads: [{ workload: 'matmul', sizes: [0], dtypes: ['f64'] }] }, 'inline'));
    expect(msg).toContain('workloads[0].sizes[0]');
    expect(msg).toContain('workloads[0].dtypes[0]');
    expect(msg).toMatch(/"f32"\|"tf32"\|"f16"\|"bf16"\|"fp8"/);
  });

  it('rejects unknown keys (typos) and unknown workloads', () => {
    expect(usageMessage(() => validateSuite({ name: 'x', workloads: [{ workload: 'matmul', szes: [8] }] }, 'inline'))).toMatch(/szes/);
    expect(usageMessage(() => validateSuite({ name: 'x', workloads: [{ workload: 'fft', sizes: [8] }] }, 'inline'))).toMatch(/workloads\[0\]/);
    expect(usageMessage(() => validateSuite({ name: 'x', workloads: [{ workload: 'matmul' }] }, 'inline'))).toMatch(/needs `sizes` or `shapes`/);
    expect(usageMessage(() => validateSuite({ name: 'x', workloads: [{ workload: 'matmul', shapes: ['4x4'] }] }, 'inline'))).toMatch(/MxNxK/);
    expect(usageMessage(() => validateSuite({ workloads: [] }, 'inline'))).toMatch(/name/);
  });

  it('reports a missing suite and invalid YAML as usage errors', () => {
    expect(usageMessage(() => loadSuite('no-such-suite'))).toMatch(/--suite: no suite file or built-in suite named "no-such-suite"/);
  });
});

describe('bad input on the command line: exit 2, the field named, no stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['a bad suite file', ['run', '--suite', 'test/fixtures/bad-suite.yaml'], /invalid suite test\/fixtures\/bad-suite\.yaml:(?=[\s\S]*workloads\[0\]\.sizes\[1\]: Too small)(?=[\s\S]*workloads\[0\]\.dtypes\[1\]: .*"f32")(?=[\s\S]*szes)/],
    ['an unknown backend', ['run', '--backends', 'webgpu,cuda9'], /--backends: unknown backend "cuda9"; allowed: .*tfjs-cpu/],
    ['an unknown workload', ['run', '--workloads', 'fft'], /--workloads: unknown workload "fft"; allowed: matmul/],
    ['a bad size', ['run', '--sizes', '256,abc'], /--sizes.*"abc" is not an integer/],
    ['a bad dtype', ['run', '--dtypes', 'f33', '--backends', 'tfjs-cpu'], /--dtypes: .*expected one of "f32"/],
    ['an unknown option', ['run', '--colour'], /unknown option '--colour'/],
    ['an unknown reporter', ['run', '--backends', 'tfjs-cpu', '--sizes', '8', '--reporter', 'fancy'], /--reporter: unknown reporter "fancy"/],
  ];
  for (const [what, args, pattern] of cases) {
    it(`rejects ${what}`, () => {
      const r = gpubench(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
