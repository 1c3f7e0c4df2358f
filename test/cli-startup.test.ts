/**
 * Start-up stays light: `--version` and `--help` load no backend, workload, zod or ws;
 * a command loads what it uses when it runs. (Times are measured by bench/startup.sh,
 * not here: a timed test on a shared machine would be flaky.)
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, ROOT } from './helpers/cli.js';

const REGISTER = join(ROOT, 'test/fixtures/module-log/register.mjs');

/** Runs the CLI with a module log; returns the exit code, stdout and the modules it loaded. */
function loaded(args: string[]): { code: number; stdout: string; modules: string[] } {
  const log = join(mkdtempSync(join(tmpdir(), 'gpubench-startup-')), 'modules.log');
  const r = spawnSync(process.execPath, ['--import', REGISTER, CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, GPUBENCH_MODULE_LOG: log },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

/** Modules that only a command's action needs (the few let through are small ones that option help and checks use). */
const HEAVY = [/\/dist\/kernels\//, /\/dist\/collectives\/(?!control\/launchers\.js)/, /\/dist\/estimate\/(?!site\.js|recompute-modules\.js)/, /\/dist\/reporters\/(?!results-file\.js|formats\/names\.js|compare\/statistic\.js)/, /node_modules\/(zod|ws|yaml|webgpu|@tensorflow)\//];

describe('start-up', () => {
  for (const args of [['--version'], ['--help'], ['run', '--help'], ['report', '--help']]) {
    it(`\`gpubench ${args.join(' ')}\` loads no backend, workload, zod or ws`, () => {
      const r = loaded(args);
      expect(r.code).toBe(0);
      const heavy = r.modules.filter((m) => HEAVY.some((re) => re.test(m)));
      expect(heavy).toEqual([]);
    });
  }

  it('`--help` still lists every command, and `run --help` every run option', () => {
    const top = loaded(['--help']).stdout;
    for (const c of ['list', 'run', 'report', 'compare', 'estimate', 'schemas', 'coordinator', 'worker']) expect(top).toMatch(new RegExp(`^  ${c} `, 'm'));
    const run = loaded(['run', '--help']).stdout;
    for (const o of ['--plugin', '--backends', '--min-busbw', '--local-nodes']) expect(run).toContain(o);
    expect(loaded(['report', '--help']).stdout.replace(/\s+/g, ' ')).toContain('html, md, csv, json, gab, bmf, openmetrics');
  });

  it('a command loads its backends when it runs: `list` probes every backend', () => {
    const r = loaded(['list']);
    expect(r.code).toBe(0);
    expect(r.modules.some((m) => m.endsWith('/dist/kernels/index.js'))).toBe(true);
    for (const id of ['webgpu', 'cuda', 'tfjs-cpu', 'ws', 'nccl']) expect(r.stdout).toContain(id);
  });
});
