/**
 * `gpubench fleet --local-nodes 6` on a healthy machine: every phase runs (matmul in
 * lockstep, every pair once in n − 1 rounds, the whole-group ring all-reduce), the results
 * file has the fleet section, and the verdict names no one: exit 0, an empty exclude
 * file, 3 runs out of 3.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpubench } from './helpers/cli.js';

const N = 6;
const FAST = ['--matmul-size', '128', '--sample-ms', '200', '--warmup', '100', '--samples', '5', '--pair-bytes', '1M', '--pair-samples', '8', '--ping-samples', '20', '--allreduce-bytes', '256K', '--task-timeout', '60000'];
const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gpubench fleet on a healthy machine', () => {
  it('names no suspect, 3 runs of 3, with every phase in the results', () => {
    for (let run = 1; run <= 3; run++) {
      const json = join(dir, `run${run}.json`);
      const exclude = join(dir, `run${run}.exclude`);
      // spawnSync's timeout kills the fleet (and so its local workers' links) if it hangs.
      const r = gpubench(['fleet', '--local-nodes', String(N), '--json', json, '--exclude-file', exclude, ...FAST], {}, 60_000);
      const res = JSON.parse(readFileSync(json, 'utf8'));
      if (process.env.GPUBENCH_FLEET_KEEP) writeFileSync(join(process.env.GPUBENCH_FLEET_KEEP, `healthy-run${run}.json`), JSON.stringify(res));
      const f = res.fleet;
      process.stderr.write(`run ${run}: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}; phases ${JSON.stringify(f.phaseMs)}; suspects: ${f.suspects.map((s: { evidence: string }) => s.evidence).join('; ') || 'none'}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/verdict: no suspect/);
      expect(res.schema).toBe('gpubench.results/v1');
      expect(res.run.status).toBe('complete');
      expect(f.suspects).toEqual([]);
      expect(f.lost).toEqual([]);
      expect(f.phases).toEqual({ matmul: 'done', pairs: 'done', allreduce: 'done' });
      expect(f.nodes).toHaveLength(N);
      for (const nd of f.nodes) {
        expect(nd.samplesMs).toHaveLength(5);
        expect(nd.backend).toBe('tfjs-cpu');
      }
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
  }, 85_000);
});
