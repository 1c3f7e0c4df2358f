import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/harness/errors.js';
import { extractMeasurements, readMeasurements } from '../src/estimate/measured.js';
import { validatePublishedRuns } from '../src/estimate/validate.js';
import { runEstimate } from '../src/estimate/run.js';

const shipped = resolve(__dirname, '..', 'configs', 'published-runs.yaml');
const shared = resolve(__dirname, '..', '..', 'shared', 'reference', 'published-runs.yaml');
const fixtures = resolve(__dirname, 'fixtures', 'estimate');

describe('validation against published runs', () => {
  it('reproduces Megatron-LM 2021 Table 1 with MAPE of per-GPU TFLOP/s under 5%', () => {
    const r = validatePublishedRuns(existsSync(shared) ? shared : shipped);
    // The shipped file holds more runs than Table 1 (Llama 3, MoE, FSDP); this test is Table 1's.
    const table1 = r.runs.filter((x) => x.id.startsWith('megatron2021-t1-'));
    expect(table1).toHaveLength(10);
    const mape = table1.reduce((s, x) => s + Math.abs(x.errorPct!), 0) / table1.length;
    expect(mape).toBeLessThan(5);
    for (const x of table1) {
      expect(Math.abs(x.errorPct!)).toBeLessThan(10);
      expect(x.predicted.flopsBasis).toBe('hardware');
      expect(x.fits).toBe(true);
    }
  });

  it('reports what it assumed for fields the source leaves out', () => {
    const r = validatePublishedRuns(shipped);
    const row = r.runs[0]!;
    expect(row.assumed.some((a) => a.startsWith('attention='))).toBe(true);
    expect(row.published.tflopsPerGPU).toBe(137);
  });

  it('a bad field in a published-runs file is a UsageError naming its path and the allowed values', () => {
    try {
      validatePublishedRuns(resolve(fixtures, 'bad-runs.yaml'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toContain('runs[0].training.recompute');
      expect((e as Error).message).toContain('none, selective, full');
    }
  });
});

describe('measured results files', () => {
  it('takes matmul TFLOP/s from ok matmul cases and busbw from all-reduce cases, and says so', () => {
    const m = readMeasurements([resolve(fixtures, 'results-h100.json')]);
    expect(m.gemms.map((g) => g.tflops).sort()).toEqual([300, 600]); // the failed case is ignored
    expect(m.gemms[0]!.precision).toBe('bf16');
    expect(m.intra?.busbwGBps).toBe(360);
    expect(m.intra?.source).toBe('measured');
    expect(m.inter).toBeUndefined();
    expect(m.notes.join(' ')).toMatch(/network bandwidth from catalog/);
  });

  it('tolerates files with no usable cases and reads alpha-beta fits when present', () => {
    const m = extractMeasurements([]);
    expect(m.gemms).toEqual([]);
    expect(m.notes.join(' ')).toMatch(/catalog/);
    const withFit = extractMeasurements([{ schema: 'gpubench.results/v1', run: { id: 'x', startedAt: '', argv: [], version: '', status: 'complete' }, environment: { hostname: '', os: '', arch: '', cpu: '', memoryBytes: 0, node: '', packages: {}, nodes: [] }, devices: [], cases: [], fits: [{ workload: 'allreduce', scope: 'inter', alphaUs: 20, busbwGBps: 45 }] } as never]);
    expect(withFit.inter).toEqual({ busbwGBps: 45, latencyUs: 20, source: 'measured' });
  });

  it('a measured node changes the estimate and the output names the source', () => {
    const base = runEstimate({ model: 'llama3-70b', cluster: 'h100-16k', gpus: 1024 });
    const meas = runEstimate({ model: 'llama3-70b', cluster: 'h100-16k', gpus: 1024, measured: [resolve(fixtures, 'results-h100.json')] });
    const sb = base.sources as { gemm: string; intraNode: string };
    const sm = meas.sources as { gemm: string; intraNode: string };
    expect(sb.gemm).toBe('catalog');
    expect(sm.gemm).toBe('measured');
    expect(sm.intraNode).toBe('measured');
    const eb = base.estimate as { stepSeconds: number };
    const em = meas.estimate as { stepSeconds: number };
    expect(em.stepSeconds).not.toBeCloseTo(eb.stepSeconds, 3);
  });

  it('a results file that breaks the contract is a UsageError naming the field', () => {
    expect(() => readMeasurements([resolve(fixtures, 'bad-model.yaml')])).toThrow(/schema/);
  });
});

describe('efficiency parameter files', () => {
  it('--params overrides a parameter and the step slows in proportion to the GEMM share', () => {
    const base = runEstimate({ model: 'gpt-1t', cluster: 'a100-selene', gpus: 3072 });
    const slow = runEstimate({ model: 'gpt-1t', cluster: 'a100-selene', gpus: 3072, paramsFile: resolve(fixtures, 'params-slow.yaml') });
    expect(slow.inputs.params.gemmInTraining).toBe(0.425);
    const gemmShare = (base.estimate.breakdown.gemm + base.estimate.breakdown.recompute * 0.7) / base.estimate.stepSeconds;
    expect(slow.estimate.stepSeconds / base.estimate.stepSeconds).toBeGreaterThan(1 + gemmShare * 0.8);
  });

  it('an unknown parameter is a UsageError naming it', () => {
    expect(() => runEstimate({ model: 'gpt-1t', cluster: 'a100-selene', gpus: 3072, paramsFile: resolve(fixtures, 'params-bad.yaml') })).toThrow(/gemmEfficiencyy/);
  });

  it('a run on a GPU the catalog lacks is reported in its row; the other runs are still predicted', () => {
    const r = validatePublishedRuns(resolve(fixtures, 'mixed-runs.yaml'));
    expect(r.runs[0]!.error).toMatch(/runs\[0\]\.gpu: unknown GPU "TPUv4"/);
    expect(r.runs[0]!.errorPct).toBeNull();
    expect(r.runs[1]!.error).toBeUndefined();
    expect(r.mape).not.toBeNull();
  });
});
