/** Results of the cuda backend (telemetry, memcpy) through the contract and every report format. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ResultsFile, type CaseResult } from '../src/harness/results/schema.js';
import { FORMAT_NAMES, renderReport } from '../src/reporters/formats/index.js';
import { caseLine } from '../src/reporters/console.js';
import { headline } from '../src/reporters/cases.js';
import { matmulCase, resultsFile } from './fixtures/results.js';
import { ROOT } from './helpers/cli.js';

const telemetry = {
  source: 'nvml' as const, samples: 61, hz: 50.2, seconds: 1.215, avgWatts: 688.4, maxWatts: 701, energyJ: 836.4,
  energySource: 'nvml-energy-counter' as const, avgSmClockMHz: 1755, avgMemClockMHz: 2619, maxTemperatureC: 63, throttleReasons: ['sw-power-cap'],
};

function cudaMatmul(): CaseResult {
  const c = matmulCase('cuda', 'bf16', 8192, 790);
  c.timer = 'cuda-event';
  c.telemetry = telemetry;
  c.metrics = { ...c.metrics, avgWatts: telemetry.avgWatts, energyJ: telemetry.energyJ, tflopsPerWatt: c.metrics.tflops! / telemetry.avgWatts };
  c.impl = { kernel: 'cublasLt', config: { algoId: 66, tile: 20, stages: 35, splitK: 1 }, autotune: { source: 'measured', candidates: 8 } };
  return c;
}

function memcpy(): CaseResult {
  const samplesMs = [0.72, 0.71, 0.73, 0.72, 0.74];
  return {
    id: 'memcpy/cuda/1073741824B', workload: 'memcpy', backend: 'cuda', device: 'NVIDIA H100 80GB HBM3', params: { bytes: 2 ** 30 },
    timer: 'cuda-event', samplesMs,
    stats: { medianMs: 0.72, meanMs: 0.724, minMs: 0.71, maxMs: 0.74, p10Ms: 0.71, p90Ms: 0.74, stddevMs: 0.011, cv: 0.016 },
    metrics: { bandwidthGBps: 2 ** 30 / 0.72e-3 / 1e9, readWriteGBps: (2 * 2 ** 30) / 0.72e-3 / 1e9, avgWatts: 402 },
    check: { passed: true, maxRelError: 0, tolerance: 0, wrong: 0, checked: 16777216 }, status: 'ok', telemetry: { ...telemetry, avgWatts: 402 },
  };
}

describe('cuda results in the contract and the reports', () => {
  const results = resultsFile([cudaMatmul(), memcpy()]);

  it('validate against the zod contract and the shipped JSON Schema', () => {
    expect(ResultsFile.safeParse(results).success).toBe(true);
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/results.v1.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
    expect(validate(JSON.parse(JSON.stringify(results))), JSON.stringify(validate.errors)).toBe(true);
    const broken = JSON.parse(JSON.stringify(results)) as { cases: { telemetry: { energySource: string } }[] };
    broken.cases[0]!.telemetry.energySource = 'guess';
    expect(validate(broken)).toBe(false);
  });

  it('render in every format; memcpy has GB/s as its headline', () => {
    for (const f of FORMAT_NAMES) expect(renderReport(results, f).length, f).toBeGreaterThan(50);
    const md = renderReport(results, 'md');
    expect(md).toContain('### Memory copy');
    expect(md).toMatch(/memcpy\/cuda\/1073741824B \| cuda \| .* \| 1 GiB \| 0\.72 \| .* \| 1491 \| 2983 \|/);
    expect(md).toMatch(/\| copy GB\/s \| read\+write GB\/s \|/);
    const csv = renderReport(results, 'csv').split('\n');
    const header = csv[0]!.split(',');
    const row = csv.find((l) => l.startsWith('memcpy/'))!.split(',');
    expect(Number(row[header.indexOf('bandwidth_gbps')])).toBeCloseTo(1491.3, 1);
    expect(Number(row[header.indexOf('read_write_gbps')])).toBeCloseTo(2982.6, 1);
    expect(headline(memcpy())).toMatchObject({ key: 'bandwidthGBps', unit: 'GB/s' });
  });

  it('console lines carry throughput and power', () => {
    expect(caseLine(memcpy())).toMatch(/1491\.3 GB\/s copy \(2982\.6 GB\/s read\+write\) .* 402 W$/);
    expect(caseLine(cudaMatmul())).toMatch(/TFLOP\/s .* 688 W \(1\.1\d TFLOP\/s\/W\)$/);
  });
});
