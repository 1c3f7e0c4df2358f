import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { spawn, spawnSync } from 'node:child_process';
import { CLI, gpubench, ROOT } from './helpers/cli.js';
import { REQUIRE_WEBGPU } from './helpers/webgpu.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-cli-'));
const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/results.v1.schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

interface Results {
  schema: string;
  run: { status: string; argv: string[] };
  environment: { packages: Record<string, string>; node: string; hostname: string };
  devices: { backend: string; name: string }[];
  cases: { id: string; status: string; backend: string; reason?: string; timer?: string; samplesMs: number[]; stats?: { medianMs: number }; warmup?: { iterations: number; ms: number; settled?: boolean }; metrics: { tflops?: number }; check?: { passed: boolean; wrong: number } }[];
}

describe('gpubench list', () => {
  it('prints every backend and writes the JSON listing', () => {
    const out = join(tmp(), 'list.json');
    const r = gpubench(['list', '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const id of ['webgpu', 'tfjs-webgpu', 'tfjs-cpu', 'tfjs-node-gpu', 'tfjs-node']) expect(r.stdout).toContain(id);
    const j = JSON.parse(readFileSync(out, 'utf8')) as { backends: { id: string; available: boolean; reason: string | null; devices: { name: string; features?: string[]; limits?: object }[] }[] };
    const byId = Object.fromEntries(j.backends.map((b) => [b.id, b]));
    expect(byId['tfjs-cpu']!.available).toBe(true);
    expect(byId['tfjs-node-gpu']!.available).toBe(false);
    expect(byId['tfjs-node-gpu']!.reason).toMatch(/not installed/);
    for (const b of j.backends) expect(b.available ? b.reason === null : typeof b.reason === 'string' && b.reason.length > 10).toBe(true);
    if (byId.webgpu!.available) {
      expect(byId.webgpu!.devices[0]!.features).toContain('timestamp-query');
      expect(byId.webgpu!.devices[0]!.limits).toHaveProperty('maxStorageBufferBindingSize');
    } else if (REQUIRE_WEBGPU) {
      throw new Error(`webgpu required but unavailable: ${byId.webgpu!.reason}`);
    }
  });
});

describe('gpubench run', () => {
  it('runs the issue\'s command: 9 ok, checked cases on webgpu, tfjs-webgpu and tfjs-cpu, results valid against the schema', () => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    const r = gpubench(['run', '--workloads', 'matmul', '--backends', 'webgpu,tfjs-webgpu,tfjs-cpu', '--sizes', '128,256,512', '--dtypes', 'f32', '--json', json, '--min-time', '100']);
    const res = JSON.parse(readFileSync(json, 'utf8')) as Results;
    const webgpuOk = res.devices.some((d) => d.backend === 'webgpu');
    if (!webgpuOk && !REQUIRE_WEBGPU) {
      // No Vulkan driver here: the WebGPU cases are skipped with the reason, tfjs-cpu still runs.
      expect(res.cases.filter((c) => c.backend === 'tfjs-cpu').every((c) => c.status === 'ok')).toBe(true);
      return;
    }
    expect(r.code, r.stderr).toBe(0);
    expect(validate(res), JSON.stringify(validate.errors)).toBe(true);
    expect(res.schema).toBe('gpubench.results/v1');
    expect(res.run.status).toBe('complete');
    expect(res.cases).toHaveLength(9);
    for (const c of res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.check?.passed).toBe(true);
      expect(c.check?.wrong).toBe(0);
      expect(c.samplesMs.length).toBeGreaterThan(0);
      expect(c.stats!.medianMs).toBeGreaterThan(0);
      expect(c.metrics.tflops).toBeGreaterThan(0);
      expect(c.warmup?.iterations).toBeGreaterThanOrEqual(2);
    }
    expect(res.cases.filter((c) => c.backend === 'webgpu').every((c) => c.timer === 'gpu-timestamp')).toBe(true);
    expect(res.cases.filter((c) => c.backend === 'tfjs-cpu').every((c) => c.timer === 'wall-clock')).toBe(true);
    expect(res.environment.packages).toHaveProperty('webgpu');
    expect(res.environment.packages).toHaveProperty('@tensorflow/tfjs-core');
    expect(res.run.argv).toContain('--backends');
    // The JSONL beside it has the run header, one line per case and the end.
    const lines = readFileSync(join(dir, 'r.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(['run', ...Array(9).fill('case'), 'end']);
    // The table and the closing tally are printed.
    expect(stripVTControlCharacters(r.stderr)).toMatch(/9 ok, 0 failed, 0 skipped/);
    expect(r.stderr).toMatch(/TFLOP\/s/);
  });

  it('fails the run (exit 1) on a wrong result and on a silent fallback, and keeps the others', () => {
    const json = join(tmp(), 'bad.json');
    const r = gpubench(['run', '--plugin', 'test/fixtures/bad-kernels.plugin.mjs', '--backends', 'test-wrong,test-fallback,tfjs-cpu', '--sizes', '24', '--dtypes', 'f32', '--json', json, '--min-time', '20']);
    expect(r.code, r.stderr).toBe(1);
    const res = JSON.parse(readFileSync(json, 'utf8')) as Results;
    expect(validate(res), JSON.stringify(validate.errors)).toBe(true);
    const byBackend = Object.fromEntries(res.cases.map((c) => [c.backend, c]));
    expect(byBackend['test-wrong']).toMatchObject({ status: 'failed', check: { passed: false, wrong: 1 } });
    expect(byBackend['test-wrong']!.reason).toMatch(/wrong result/);
    expect(byBackend['test-fallback']).toMatchObject({ status: 'failed' });
    expect(byBackend['test-fallback']!.reason).toMatch(/not counted: ran on the CPU/);
    expect(byBackend['tfjs-cpu']!.status).toBe('ok');
    expect(stripVTControlCharacters(r.stderr)).toMatch(/1 ok, 2 failed, 0 skipped/);
  });

  it('skips what a backend cannot run with the reason, and writes results under --out', () => {
    const dir = tmp();
    const r = gpubench(['run', '--backends', 'tfjs-cpu', '--sizes', '16', '--dtypes', 'f32,f16', '--out', dir, '--min-time', '20']);
    expect(r.code, r.stderr).toBe(0);
    const file = r.stderr.match(/results: (\S+\.json)/)?.[1];
    expect(file && existsSync(file)).toBe(true);
    const res = JSON.parse(readFileSync(file!, 'utf8')) as Results;
    expect(res.cases.map((c) => [c.id, c.status])).toEqual([
      ['matmul/tfjs-cpu/f32/16x16x16', 'ok'],
      ['matmul/tfjs-cpu/f16/16x16x16', 'skipped'],
    ]);
    expect(res.cases[1]!.reason).toMatch(/float32 only/);
  });

  it('prints plain lines, not a redrawn progress line, when stderr is not a TTY', () => {
    const r = gpubench(['run', '--backends', 'tfjs-cpu', '--sizes', '8,16', '--json', join(tmp(), 'p.json'), '--min-time', '10']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/\u001b\[\d*[AK]/); // no cursor movement or line erasing
    // Colours may be on (picocolors colours CI logs); the line itself must be plain.
    expect(stripVTControlCharacters(r.stderr)).toMatch(/^ok +matmul\/tfjs-cpu\/f32\/8x8x8 /m);
  });
});

const haveScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!haveScript)(`gpubench run on a terminal${haveScript ? '' : ' (skipped: util-linux `script` not found)'}`, () => {
  it('redraws one live progress line per case on a TTY', () => {
    const json = join(tmp(), 'tty.json');
    // A real pseudo-terminal with a size (log-update draws nothing on a 0×0 one).
    const cmd = `stty rows 40 cols 160; ${process.execPath} ${CLI} run --backends tfjs-cpu --sizes 32,64 --json ${json} --min-time 200`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '' }, timeout: 120_000 });
    expect(r.status, r.stdout).toBe(0);
    // The live line: case i/N, the phase and its seconds, samples so far, the run's elapsed time and ETA.
    expect(r.stdout).toMatch(/\[1\/2\] matmul\/tfjs-cpu\/f32\/32x32x32 +samples \d+ s +sample \d+ +· run \d+:\d\d, ETA ~\d+:\d\d/);
    expect(r.stdout).toMatch(/\[2\/2\] matmul\/tfjs-cpu\/f32\/64x64x64/);
    expect(r.stdout).toMatch(/\u001b\[2K|\u001b\[1A/); // the line is erased and redrawn
    expect(stripVTControlCharacters(r.stdout)).toMatch(/2 ok, 0 failed, 0 skipped/);
  });
});

describe('gpubench run interrupted', () => {
  it('stops after the current case on Ctrl-C, keeps what was measured, and exits 130', async () => {
    const dir = tmp();
    const json = join(dir, 'int.json');
    const child = spawn(process.execPath, [CLI, 'run', '--backends', 'tfjs-cpu', '--sizes', '16,24,32,48,64,96', '--json', json, '--min-time', '300'], { cwd: ROOT });
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        // After the first case has ended, interrupt as a person at the terminal would.
        if (/^(\u001b\[\d+m)?ok\b/m.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/stopping after this case/);
    const res = JSON.parse(readFileSync(json, 'utf8')) as Results;
    expect(res.run.status).toBe('partial');
    expect(res.cases.length).toBeGreaterThanOrEqual(1);
    expect(res.cases.length).toBeLessThan(6);
    expect(res.cases.every((c) => c.status === 'ok')).toBe(true);
    const lines = readFileSync(join(dir, 'int.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBe(res.cases.length + 2); // run header, the cases, the end
  });
});

describe('planning with --backends against a suite', () => {
  it('keeps an entry\'s own backends that are given, runs unnamed ones in every entry, and notes what is unavailable', async () => {
    const { planRun } = await import('../src/harness/plan.js');
    const { validateSuite } = await import('../src/harness/suite.js');
    await import('../src/kernels/index.js');
    const suite = validateSuite({
      name: 't',
      workloads: [
        { workload: 'matmul', backends: ['webgpu', 'tfjs-node-gpu'], sizes: [64] },
        { workload: 'matmul', backends: ['tfjs-cpu', 'tfjs-node'], sizes: [8] },
      ],
    }, 'inline');
    const all = await planRun(suite, { overrides: {} });
    expect(all.cases.map((c) => c.backend).filter((b) => b.startsWith('tfjs-node'))).toEqual([]);
    expect(all.unavailable.map((u) => u.backend).sort()).toEqual(['tfjs-node', 'tfjs-node-gpu']);
    const cpu = await planRun(suite, { backends: ['tfjs-cpu'], overrides: {} });
    expect(cpu.cases.map((c) => c.id)).toEqual(['matmul/tfjs-cpu/f32/8x8x8']);
    const named = await planRun(suite, { backends: ['tfjs-node'], overrides: {} });
    expect(named.cases.map((c) => c.id)).toEqual(['matmul/tfjs-node/f32/8x8x8']);
    expect(named.cases[0]!.skip).toMatch(/^backend unavailable: not installed: npm install @tensorflow\/tfjs-node /);
  });
});
