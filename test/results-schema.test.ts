import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { jsonSchemas } from '../src/harness/results/json-schemas.js';
import { ROOT } from './helpers/cli.js';

const shipped = (name: string) => JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: false });

const good = {
  schema: 'gpubench.results/v1',
  run: { id: 'r1', startedAt: '2026-11-22T00:00:00Z', argv: ['run'], version: '0.1.0', status: 'complete' },
  environment: { hostname: 'h', os: 'Linux', arch: 'x64', cpu: 'c', memoryBytes: 1, node: 'v20', packages: {}, nodes: [] },
  devices: [{ backend: 'webgpu', id: 'x', name: 'NVIDIA H100 80GB HBM3' }],
  cases: [{
    id: 'matmul/webgpu/f32/8x8x8', workload: 'matmul', backend: 'webgpu', device: 'd', params: { m: 8, n: 8, k: 8, dtype: 'f32', batch: 1 },
    timer: 'gpu-timestamp', samplesMs: [1, 2], stats: { medianMs: 1.5, meanMs: 1.5, minMs: 1, maxMs: 2, p10Ms: 1.1, p90Ms: 1.9, stddevMs: 0.7, cv: 0.47 },
    metrics: { tflops: 1e-6 }, check: { passed: true, maxRelError: 1e-7, tolerance: 1e-5, wrong: 0 }, status: 'ok',
  }],
};

describe('the shipped JSON Schemas', () => {
  it('are exactly what the zod definitions generate (run `npm run schemas` after changing them)', () => {
    for (const [name, schema] of Object.entries(jsonSchemas())) expect(shipped(name), name).toEqual(JSON.parse(JSON.stringify(schema)));
  });

  it('accept a well-formed results file and reject broken ones', () => {
    const validate = ajv.compile(shipped('results.v1.schema.json'));
    expect(validate(good), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...good, schema: 'gpubench.results/v2' })).toBe(false);
    expect(validate({ ...good, cases: [{ ...good.cases[0], status: 'great' }] })).toBe(false);
    expect(validate({ ...good, cases: [{ ...good.cases[0], timer: 'sundial' }] })).toBe(false);
    const { environment: _e, ...noEnv } = good;
    expect(validate(noEnv)).toBe(false);
  });

  it('validate the built-in suites as editors would', async () => {
    const { parse } = await import('yaml');
    const validate = ajv.compile(shipped('suite.v1.schema.json'));
    for (const name of ['default', 'gpu']) {
      const doc = parse(readFileSync(join(ROOT, 'configs/suites', `${name}.yaml`), 'utf8')) as object;
      expect(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate({ name: 'x', workloads: [{ workload: 'matmul', sizes: [8], dtypes: ['f64'] }] })).toBe(false);
  });
});
