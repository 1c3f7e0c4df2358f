/**
 * `gpubench fleet --local-nodes 6` on a healthy machine: every phase runs (matmul and the
 * device copy — WebGPU's memcpy on the software Vulkan adapter — in lockstep, every pair
 * once in n − 1 rounds, the whole-group ring all-reduce with what its pairs predict, its
 * bisection where it falls short of that, k-batches of 2), the results file has the fleet
 * section, and the verdict names no one: exit 0, an empty exclude file, 3 runs out of 3.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpubench } from './helpers/cli.js';

const N = 6;
const FAST = ['--matmul-size', '128', '--sample-ms', '200', '--warmup', '100', '--samples', '5', '--pair-bytes', '1M', '--pair-samples', '8', '--ping-samples', '20', '--allreduce-bytes', '256K', '--allreduce-k', '2', '--memcpy-bytes', '4M', '--task-timeout', '60000'];
const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gpubench fleet on a healthy machine', () => {
  it('names no suspect, 3 runs of 3, with every phase in the results', () => {
    for (let run = 1; run <= 3; run++) {
      const json = join(dir, `run${run}.json`);
      const exclude = join(dir, `run${run}.exclude`);
      // spawnSync's timeout kills the fleet (and so its local workers' links) if it hangs.
      const r = gpubench(['fleet', '--local-nodes', String(N), '--json', json, '--exclude-file', exclude, ...FAST], {}, 120_000);
      const res = JSON.parse(readFileSync(json, 'utf8'));
      if (process.env.GPUBENCH_FLEET_KEEP) writeFileSync(join(process.env.GPUBENCH_FLEET_KEEP, `healthy-run${run}.json`), JSON.stringify(res));
      const f = res.fleet;
      process.stderr.write(`run ${run}: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}; phases ${JSON.stringify(f.phaseMs)}; ring ${f.allreduce.predicted ? `${(100 * f.allreduce.predicted.ratio).toFixed(0)}% of its slowest link` : '?'}, bisection ${f.bisection ? `${f.bisection.levels.length} levels` : 'not needed'}; suspects: ${f.suspects.map((s: { evidence: string }) => s.evidence).join('; ') || 'none'}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/verdict: no suspect/);
      expect(res.schema).toBe('gpubench.results/v1');
      expect(res.run.status).toBe('complete');
      expect(f.suspects).toEqual([]);
      expect(f.lost).toEqual([]);
      expect(f.phases).toEqual({ matmul: 'done', memcpy: 'done', pairs: 'done', allreduce: 'done' });
      expect(f.nodes).toHaveLength(N);
      for (const nd of f.nodes) {
        expect(nd.samplesMs).toHaveLength(5);
        expect(nd.backend).toBe('tfjs-cpu');
        // The copy on the one device here (lavapipe, through the registry's memcpy kernels), checked and timed.
        expect(nd.memcpy).toMatchObject({ backend: 'webgpu', bytes: 4 * 2 ** 20 });
        expect(nd.memcpy.samplesMs).toHaveLength(5);
        expect(nd.memcpy.bandwidthGBps).toBeGreaterThan(0);
        // No NVML on either stack: each phase says so, and why.
        expect(nd.telemetry).toEqual({ matmul: { none: 'the tfjs-cpu backend reads no device telemetry' }, memcpy: { none: 'the webgpu backend reads no device telemetry' } });
      }
      // The whole-group ring against its slowest link; where it fell short, the bisection ran and named no one.
      expect(f.allreduce.predicted.busbwGBps).toBeGreaterThan(0);
      if (f.allreduce.predicted.slow) expect(f.bisection.levels.length).toBeGreaterThan(0);
      expect(f.bisection?.localised).toBeUndefined();
      expect(f.kBatches.groups.map((g: { ranks: number[] }) => g.ranks)).toEqual([[0, 1], [2, 3], [4, 5]]);
      expect(f.pairs.rounds).toBe(N - 1);
      expect(f.pairs.links).toHaveLength((N * (N - 1)) / 2);
      // The pair matrix: symmetric, every off-diagonal cell measured.
      const m = f.pairs.matrix.bandwidthMBps as (number | null)[][];
      for (let a = 0; a < N; a++)
        for (let b = 0; b < N; b++) {
          if (a === b) expect(m[a]![b]).toBeNull();
          else {
            expect(m[a]![b]).toBeGreaterThan(0);
            expect(m[a]![b]).toBe(m[b]![a]);
          }
        }
      expect(f.allreduce.busbwGBps).toBeGreaterThan(0);
      expect(readFileSync(exclude, 'utf8')).toBe('');
    }
  }, 360_000);
});
