// What bench/compare-aa.mjs and bench/compare-paired.mjs share: their arguments, one
// `gpubench run` of bench/compare-aa.yaml (normal, or with the plugin kernel that does
// `--factor` times the matmul work under the same case ids), and `gpubench compare`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');

/** `--name value` from the command line, else `dflt`. */
export const argOf = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};

/** The options both benches take, and the folder their runs go to. */
export function settings(prefix) {
  const reuse = argOf('reuse', undefined);
  const keep = argOf('keep', undefined);
  const dir = reuse ?? keep ?? mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(dir, { recursive: true });
  return {
    pairs: Number(argOf('pairs', '20')),
    factor: argOf('factor', '1.2'),
    nice: argOf('nice', undefined),
    repetitions: argOf('repetitions', undefined),
    budgetMs: Number(argOf('budget-min', '11')) * 60_000,
    reuse,
    keep,
    dir,
  };
}

export const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

/** One `gpubench run` of the suite into DIR/NAME.json; the path, or undefined when it failed. */
export function run(s, name, slow) {
  const json = join(s.dir, `${name}.json`);
  const args = [cli, 'run', '--suite', join(root, 'bench', 'compare-aa.yaml'), '--local-nodes', '2', '--json', json, '--reporter', 'silent',
    ...(s.repetitions ? ['--repetitions', s.repetitions] : []),
    ...(slow ? ['--plugin', join(root, 'test', 'fixtures', 'more-work.plugin.mjs')] : [])];
  const cmd = s.nice !== undefined ? ['nice', '-n', s.nice, process.execPath, ...args] : [process.execPath, ...args];
  const env = { ...process.env, GPUBENCH_AUTOTUNE: 'off', GPUBENCH_WORK_FACTOR: s.factor };
  const r = spawnSync(cmd[0], cmd.slice(1), { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    process.stderr.write(`run ${name} exited ${r.status}: ${(r.stderr ?? '').split('\n').slice(-4).join(' | ')}\n`);
    return undefined;
  }
  return json;
}

/** `gpubench compare ...args --format json` at its defaults otherwise; exit code and report. */
export function compare(...args) {
  const r = spawnSync(process.execPath, [cli, 'compare', ...args, '--format', 'json'], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`compare exited ${r.status}: ${r.stderr}`);
  return { code: r.status, report: JSON.parse(r.stdout) };
}

export const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/** Whether a report's case is a matmul case (the one the plugin slows). */
export const matmul = (c) => c.id.startsWith('matmul/');
