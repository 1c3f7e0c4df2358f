/**
 * A run whose collectives reduced in JavaScript instead of with the native addon says so
 * once on the console, naming the fix; a run with the addon says nothing.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpubench } from './helpers/cli.js';
import { loadAddon } from '../src/kernels/cuda/addon.js';
import { jsReductionWarning } from '../src/reporters/js-reduction.js';
import type { ResultsFile } from '../src/harness/results/schema.js';

const addonBuilt = 'addon' in loadAddon();
const FAST = ['--workloads', 'allreduce', '--backends', 'ws', '--min-time', '20', '--warmup', '5', '--reporter', 'silent', '-b', '8', '-e', '64', '-f', '8'];
const WARNING = /gpubench: warning: .* reduced on the host in JavaScript/g;

function run(env: NodeJS.ProcessEnv): { code: number; stderr: string; reductions: unknown[] } {
  const json = join(mkdtempSync(join(tmpdir(), 'gpubench-jsreduce-')), 'r.json');
  const r = gpubench(['run', '--local-nodes', '2', ...FAST, '--json', json], env, 90_000);
  const res = JSON.parse(readFileSync(json, 'utf8')) as ResultsFile;
  return { code: r.code, stderr: r.stderr, reductions: res.cases.map((c) => c.impl?.config?.reduction) };
}

describe('the JS reduction notice', () => {
  it('is written once per run when the ranks reduced in JavaScript (GPUBENCH_JS_REDUCE=1), naming how to fix it', () => {
    const r = run({ GPUBENCH_JS_REDUCE: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.reductions).toEqual(['js', 'js']);
    const warnings = r.stderr.match(WARNING) ?? [];
    expect(warnings, r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/2 collective cases reduced on the host in JavaScript \(on every rank\)/);
    expect(r.stderr).toContain('npm rebuild gpubench');
    expect(r.stderr).toContain('npm run build:native');
  });

  it.skipIf(!addonBuilt)('is not written when every rank used the native addon (needs the addon: npm run build:native)', () => {
    const r = run({ GPUBENCH_JS_REDUCE: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.reductions).toEqual(['native', 'native']);
    expect(r.stderr).not.toMatch(WARNING);
  });

  it('names the ranks of a mixed run', () => {
    const mixed = 'mixed (native on ranks 0, js on ranks 1)';
    const results = { cases: [{ impl: { kernel: 'ring', config: { reduction: mixed } } }, { impl: { kernel: 'ring', config: { reduction: 'native' } } }, { impl: { kernel: 'tile' } }] } as unknown as ResultsFile;
    expect(jsReductionWarning(results)).toMatch(/^gpubench: warning: 1 collective case reduced on the host in JavaScript \(mixed \(native on ranks 0, js on ranks 1\)\)/);
    expect(jsReductionWarning({ cases: [results.cases[1]!, results.cases[2]!] } as ResultsFile)).toBeUndefined();
  });
});
