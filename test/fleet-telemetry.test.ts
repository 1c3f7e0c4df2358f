/**
 * The fleet's device copy and per-GPU telemetry on the CUDA path, without a GPU: four plain
 * workers with the fake CUDA driver and NVML (test/helpers/fake-cuda.ts; FAKE_CUDA=host
 * makes the copies real host copies, so the memcpy case is checked), the matmul on
 * tfjs-cpu. Rank 2's "GPU" times every copy at 3 ms instead of 1 (FAKE_CUDA_EVENT_MS) and
 * reports the hw-slowdown clocks-event reason (FAKE_NVML_REASONS=0x8): it is the one
 * suspect, by its memcpy bandwidth, and its evidence says what NVML saw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, startCli, type StartedCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { buildFakes, CC } from './helpers/fake-cuda.js';
import { loadAddon } from '../src/kernels/cuda/addon.js';

const loaded = loadAddon();
const addon = 'addon' in loaded ? loaded.addon : undefined;
const missing = !addon ? 'the native addon is not built (npm ci builds it)' : !CC ? 'no C compiler for the fake CUDA libraries' : undefined;
if (missing && process.env.GPUBENCH_REQUIRE_CLUSTER === '1') throw new Error(`GPUBENCH_REQUIRE_CLUSTER=1 but the fleet telemetry test cannot run: ${missing}`);

const N = 4;
const SLOW = 2;
const FAST = ['--backend', 'tfjs-cpu', '--matmul-size', '64', '--memcpy', 'cuda', '--memcpy-bytes', '64K', '--sample-ms', '100', '--warmup', '50', '--samples', '5',
  '--pair-bytes', '64K', '--pair-samples', '4', '--ping-samples', '10', '--allreduce-bytes', '0', '--task-timeout', '60000'];
const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-tel-'));
const started: ChildProcess[] = [];
let fleet: StartedCli | undefined;
let fakes: string | undefined;

afterAll(() => {
  for (const c of [...started, ...(fleet ? [fleet.child] : [])]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  if (fakes) rmSync(fakes, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)(`gpubench fleet: memcpy and NVML telemetry on the CUDA path${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('names the slow-copying GPU and gives its throttle reason as evidence', async () => {
    fakes = buildFakes(addon!, ['cuda', 'cublasLt', 'nvml']);
    const port = await freePort();
    const json = join(dir, 'tel.json');
    fleet = startCli(['fleet', '--world-size', String(N), '--port', String(port), '--json', json, ...FAST], 80_000);
    await fleet.waitFor(/listening on ws:/);
    const exits = Array.from({ length: N }, (_, r) => {
      const env = {
        ...process.env, GPUBENCH_RANK: String(r), GPUBENCH_WORLD_SIZE: String(N), GPUBENCH_LOCAL_RANK: String(r),
        GPUBENCH_CUDA_LIBRARY_PATH: fakes!, FAKE_CUDA: 'host', FAKE_NVML: '1',
        ...(r === SLOW ? { FAKE_CUDA_EVENT_MS: '3', FAKE_NVML_REASONS: '0x8' } : {}),
      };
      const child = spawn(process.execPath, [CLI, 'worker', '--coordinator', `ws://127.0.0.1:${port}`, '--connect-timeout', '20000'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'ignore'] });
      started.push(child);
      return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    });
    const code = await fleet.exited;
    expect(await Promise.all(exits)).toEqual([0, 0, 0, 0]);
    const f = JSON.parse(readFileSync(json, 'utf8')).fleet;
    process.stderr.write(`exit ${code}; phases ${JSON.stringify(f.phaseMs)}; suspects:\n${f.suspects.map((s: { evidence: string }) => `  ${s.evidence}`).join('\n')}\n`);
    expect(code, fleet.stderr()).toBe(1);
    for (const nd of f.nodes) {
      expect(nd.memcpy).toMatchObject({ backend: 'cuda', device: 'NVIDIA Fake H100 80GB HBM3', bytes: 65536 });
      expect(nd.memcpy.samplesMs).toHaveLength(5);
      // The copy ran on the CUDA stack, NVML sampled it; the matmul's stack reads none.
      expect(nd.telemetry.memcpy).toMatchObject({ source: 'nvml', avgSmClockMHz: 1980, avgMemClockMHz: 2619, maxTemperatureC: 47, throttleReasons: [nd.rank === SLOW ? 'hw-slowdown' : 'sw-power-cap'] });
      expect(nd.telemetry.matmul).toEqual({ none: 'the tfjs-cpu backend reads no device telemetry' });
    }
    // 3 ms a copy against 1: a third of the bandwidth.
    expect(f.nodes[SLOW].memcpy.medianMs).toBeCloseTo(3, 5);
    expect(f.nodes[0].memcpy.medianMs).toBeCloseTo(1, 5);
    expect(f.suspects).toHaveLength(1);
    const s = f.suspects[0];
    expect(s).toMatchObject({ kind: 'node', via: 'node', ranks: [SLOW], metric: 'memcpy bandwidth' });
    expect(s.evidence).toMatch(/telemetry \(memcpy\): 1980 MHz SM \(fleet median 1980\), 2619 MHz mem .* throttle reasons: hw-slowdown \(hw-slowdown: the GPU held its clocks down\)/);
  }, 85_000);
});
