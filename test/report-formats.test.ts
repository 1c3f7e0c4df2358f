/**
 * Every export format checked against its published shape: CSV columns, the results
 * contract round trip, github-action-benchmark's customBiggerIsBetter array, Bencher
 * Metric Format, and OpenMetrics text parsed back by an independent Prometheus parser.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/harness/errors.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { CSV_COLUMNS } from '../src/reporters/formats/csv.js';
import { FORMAT_NAMES, formats, parseFormats, renderReport, writeReports } from '../src/reporters/formats/index.js';
import { loadResults, mergeResults, parseResults } from '../src/reporters/load.js';
import { allreduceCase, matmulCase, nodeResults, resultsFile } from './fixtures/results.js';
import { resultsTable } from '../src/reporters/console.js';

const results = nodeResults();
const measured = results.cases.filter((c) => c.status === 'ok');

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; } else if (ch === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; } else field += ch;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

describe('csv', () => {
  it('has a header of fixed columns and one row per case, every row as wide as the header', () => {
    const rows = parseCsv(renderReport(results, 'csv'));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(results.cases.length + 1);
    for (const r of rows) expect(r).toHaveLength(CSV_COLUMNS.length);
    const col = (name: string) => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    const mm = results.cases.find((c) => c.id === 'matmul/cuda/bf16/8192x8192x8192')!;
    const r = byId.get(mm.id)!;
    expect(Number(r[col('tflops')])).toBeCloseTo(mm.metrics.tflops!, 9);
    expect(Number(r[col('median_ms')])).toBeCloseTo(mm.stats!.medianMs, 12);
    expect(r[col('m')]).toBe('8192');
    expect(r[col('device_name')]).toBe('NVIDIA H100 80GB HBM3');
    expect(r[col('busbw_gbps')]).toBe('');
    const ar = rows.find((x) => x[0] === 'allreduce/ws/f32/1048576/ring')!;
    expect(ar[col('algorithm')]).toBe('ring');
    expect(ar[col('bytes')]).toBe('1048576');
    expect(Number(ar[col('busbw_gbps')])).toBeGreaterThan(0);
    const failed = rows.find((x) => x[col('status')] === 'failed')!;
    expect(failed[col('check_passed')]).toBe('false');
  });

  it('quotes fields with commas, quotes and line breaks', () => {
    const c = { ...matmulCase('webgpu', 'f32', 64, 1), status: 'failed' as const, reason: 'bad, "very"\nbad' };
    const rows = parseCsv(renderReport(resultsFile([c]), 'csv'));
    expect(rows[1]![CSV_COLUMNS.indexOf('reason')]).toBe('bad, "very"\nbad');
  });
});

describe('json', () => {
  it('round-trips through the results contract', () => {
    const back = JSON.parse(renderReport(results, 'json'));
    expect(ResultsFile.parse(back)).toEqual(results);
  });
});

// github-action-benchmark's custom tool format, as its README and src/extract.ts define it.
const gabSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name', 'unit', 'value'],
    additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1 }, unit: { type: 'string' }, value: { type: 'number' }, range: { type: 'string' }, extra: { type: 'string' } },
  },
};

// Bencher Metric Format: benchmark → measure → { value, lower_value?, upper_value? }.
const bmfSchema = {
  type: 'object',
  minProperties: 1,
  additionalProperties: {
    type: 'object',
    minProperties: 1,
    additionalProperties: {
      type: 'object',
      required: ['value'],
      additionalProperties: false,
      properties: { value: { type: 'number' }, lower_value: { type: 'number' }, upper_value: { type: 'number' } },
    },
  },
};

describe('gab (github-action-benchmark customBiggerIsBetter)', () => {
  const entries = JSON.parse(renderReport(results, 'gab'));
  it('matches the customBiggerIsBetter shape', () => {
    const ajv = new Ajv({ allErrors: true });
    expect(ajv.validate(gabSchema, entries), ajv.errorsText()).toBe(true);
  });
  it('has one bigger-is-better entry per measured case, failed cases left out', () => {
    expect(entries).toHaveLength(measured.length);
    const bf16 = entries.find((e: { name: string }) => e.name === 'matmul/cuda/bf16/8192x8192x8192');
    expect(bf16.unit).toBe('TFLOP/s');
    expect(bf16.value).toBeGreaterThan(600);
    expect(bf16.range).toMatch(/^± \d/);
    const ring = entries.find((e: { name: string }) => e.name === 'allreduce/nccl/f32/268435456/ring');
    expect(ring.unit).toBe('GB/s');
    expect(entries.some((e: { name: string }) => e.name === 'matmul/tfjs-webgpu/f16/4096x4096x4096')).toBe(false);
  });
});

describe('bmf (Bencher Metric Format)', () => {
  const doc = JSON.parse(renderReport(results, 'bmf'));
  it('matches the BMF shape', () => {
    const ajv = new Ajv({ allErrors: true });
    expect(ajv.validate(bmfSchema, doc), ajv.errorsText()).toBe(true);
  });
  it('gives latency in ns and throughput with lower ≤ value ≤ upper', () => {
    expect(Object.keys(doc)).toHaveLength(measured.length);
    const mm = results.cases.find((c) => c.id === 'matmul/webgpu/f32/4096x4096x4096')!;
    const b = doc[mm.id];
    expect(b.latency.value).toBeCloseTo(mm.stats!.medianMs * 1e6, 3);
    expect(b.tflops.value).toBeCloseTo(mm.metrics.tflops!, 9);
    for (const measures of Object.values(doc) as Record<string, { value: number; lower_value: number; upper_value: number }>[]) {
      for (const m of Object.values(measures)) {
        expect(m.lower_value).toBeLessThanOrEqual(m.value);
        expect(m.upper_value).toBeGreaterThanOrEqual(m.value);
      }
    }
    expect(doc['allreduce/ws/f32/1048576/ring']['busbw-gbps'].value).toBeGreaterThan(0);
  });
});

describe('openmetrics', () => {
  const text = renderReport(results, 'openmetrics');
  it('is valid OpenMetrics: TYPE before samples, UNIT matches the name suffix, ends with # EOF', () => {
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.at(-2)).toBe('# EOF');
    const typed = new Map<string, string>();
    const seen = new Set<string>();
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;
    for (const line of lines.slice(0, -2)) {
      let m: RegExpExecArray | null;
      if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|summary|counter|info)$/.exec(line))) {
        expect(typed.has(m[1]!), `family ${m[1]} declared twice`).toBe(false);
        typed.set(m[1]!, m[2]!);
      } else if ((m = /^# UNIT (\S+) (\S+)$/.exec(line))) {
        expect(m[1]!.endsWith(`_${m[2]}`), line).toBe(true);
      } else if (line.startsWith('# HELP ')) {
        expect(typed.has(line.split(' ')[2]!)).toBe(true);
      } else {
        m = sample.exec(line);
        expect(m, `not a sample line: ${line}`).not.toBeNull();
        const name = m![1]!;
        const family = [...typed.keys()].find((f) => name === f);
        expect(family, `sample before its TYPE: ${line}`).toBeDefined();
        expect(seen.has(`${name}${m![2] ?? ''}`), `duplicate series ${line}`).toBe(false);
        seen.add(`${name}${m![2] ?? ''}`);
      }
    }
  });

  it('parses back with a Prometheus text parser to the same numbers', () => {
    const fams = parsePrometheusTextFormat(text);
    const byName = new Map(fams.map((f) => [f.name, f]));
    const tflops = byName.get('gpubench_matmul_tflops')!;
    expect(tflops.type).toBe('GAUGE');
    const mm = results.cases.find((c) => c.id === 'matmul/cuda/tf32/2048x2048x2048')!;
    const s = tflops.metrics.find((m) => m.labels?.case === mm.id)!;
    expect(Number(s.value)).toBeCloseTo(mm.metrics.tflops!, 9);
    expect(s.labels).toMatchObject({ backend: 'cuda', dtype: 'tf32', device: 'NVIDIA H100 80GB HBM3', host: 'gpu-node-017' });
    const busbw = byName.get('gpubench_collective_busbw_bytes_per_second')!;
    const ar = results.cases.find((c) => c.id === 'allreduce/ws/f32/1048576/ring')!;
    expect(Number(busbw.metrics.find((m) => m.labels?.case === ar.id)!.value)).toBeCloseTo(ar.metrics.busbwGBps! * 1e9, 0);
    const value = (family: string, id: string) => Number(byName.get(family)!.metrics.find((m) => m.labels?.case === id)!.value);
    expect(value('gpubench_case_median_seconds', mm.id)).toBeCloseTo(mm.stats!.medianMs / 1e3, 12);
    expect(value('gpubench_case_p90_seconds', mm.id)).toBeCloseTo(mm.stats!.p90Ms / 1e3, 12);
    expect(value('gpubench_case_samples', mm.id)).toBe(mm.samplesMs.length);
    expect(value('gpubench_matmul_peak_ratio', mm.id)).toBeCloseTo(mm.metrics.pctOfPeak! / 100, 12);
    for (const f of fams) expect(f.type, f.name).toBe('GAUGE');
    const ok = byName.get('gpubench_case_ok')!;
    expect(ok.metrics).toHaveLength(results.cases.length);
    expect(ok.metrics.filter((m) => m.value === '0')).toHaveLength(results.cases.length - measured.length);
  });

  it('escapes label values', () => {
    const c = { ...allreduceCase('ws', 'ri"ng\\x', 1024, 1), device: 'a\nb' };
    const fams = parsePrometheusTextFormat(renderReport(resultsFile([c]), 'openmetrics'));
    const ok = fams.find((f) => f.name === 'gpubench_case_ok')!;
    expect(ok.metrics[0]!.labels).toMatchObject({ algorithm: 'ri"ng\\x' });
  });
});

describe('markdown', () => {
  const md = renderReport(results, 'md');
  it('has a verdict line, a row per non-skipped case, and the failure spelled out', () => {
    expect(md).toMatch(/^## ❌ gpubench: \d+\/\d+ cases ok, 1 failed, 1 skipped/);
    for (const c of results.cases.filter((x) => x.status !== 'skipped')) expect(md).toContain(`| ${c.id} |`);
    expect(md).toContain('### Matrix multiply');
    expect(md).toContain('### Collectives');
    expect(md).toMatch(/`matmul\/tfjs-webgpu\/f16\/4096x4096x4096`: \*\*failed\*\* wrong result/);
    // Every table row has as many cells as its header.
    for (const table of md.split('\n\n').filter((b) => b.startsWith('| '))) {
      const widths = table.split('\n').map((l) => l.replace(/\\\|/g, '').split('|').length);
      expect(new Set(widths).size).toBe(1);
    }
  });
});

describe('writeReports and format names', () => {
  it('writes every format and returns the paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpubench-report-'));
    const paths = await writeReports(results, ['html', 'md', 'csv', 'json', 'gab', 'bmf', 'openmetrics', 'markdown'], dir, 'node');
    expect(paths.map((p) => p.slice(dir.length + 1))).toEqual(['node.html', 'node.md', 'node.csv', 'node.json', 'node.gab.json', 'node.bmf.json', 'node.prom']);
    for (const p of paths) expect((await readFile(p, 'utf8')).length).toBeGreaterThan(100);
  });
  it('rejects an unknown format with a UsageError naming the allowed ones', async () => {
    await expect(writeReports(results, ['html', 'pdf'], tmpdir())).rejects.toThrow(UsageError);
    expect(() => parseFormats('html,pdf')).toThrow(/unknown format 'pdf'; allowed: html, md, csv, json, gab, bmf, openmetrics/);
    expect(FORMAT_NAMES.every((n) => n in formats)).toBe(true);
  });
});

describe('loading results', () => {
  it('refuses unreadable, non-JSON, foreign-schema and malformed files with a UsageError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpubench-load-'));
    await expect(loadResults(join(dir, 'missing.json'))).rejects.toThrow(/cannot read results file .*ENOENT/);
    await writeFile(join(dir, 'bad.json'), '{ nope');
    await expect(loadResults(join(dir, 'bad.json'))).rejects.toThrow(/is not JSON/);
    await writeFile(join(dir, 'v2.json'), JSON.stringify({ ...results, schema: 'gpubench.results/v2' }));
    await expect(loadResults(join(dir, 'v2.json'))).rejects.toThrow(UsageError);
    await expect(loadResults(join(dir, 'v2.json'))).rejects.toThrow(/schema is "gpubench.results\/v2"/);
    const broken = structuredClone(results) as unknown as { cases: { samplesMs: unknown }[] };
    broken.cases[3]!.samplesMs = 'fast';
    expect(() => parseResults(broken, 'x.json')).toThrow(/x.json is not a valid gpubench.results\/v1 file: cases.3.samplesMs/);
  });
  it('merges several files, keeping clashing ids apart', () => {
    const a = resultsFile([matmulCase('webgpu', 'f32', 512, 10)], 'run-a');
    const b = resultsFile([matmulCase('webgpu', 'f32', 512, 11)], 'run-b');
    const m = mergeResults([a, b]);
    expect(m.cases.map((c) => c.id)).toEqual(['matmul/webgpu/f32/512x512x512', 'matmul/webgpu/f32/512x512x512@run-b']);
    expect(m.environment.nodes).toHaveLength(1);
  });
});

describe('the console table', () => {
  const header = (table: string) => table.split('\n').find((l) => l.includes('median ms'))!;
  it('has algbw and busbw but no TFLOP/s or % peak for a run of collectives only', () => {
    const h = header(resultsTable(resultsFile([allreduceCase('ws', 'ring', 1 << 24, 0.6), allreduceCase('ws', 'recursive-doubling', 1024, 0.01)])));
    expect(h).toContain('busbw GB/s');
    expect(h).not.toContain('TFLOP/s');
    expect(h).not.toContain('% peak');
  });
  it('has TFLOP/s and % peak but no busbw for matmul only, and all of them for a mixed run', () => {
    const mm = header(resultsTable(resultsFile([matmulCase('cuda', 'bf16', 8192, 700)])));
    expect(mm).toContain('TFLOP/s');
    expect(mm).not.toContain('busbw');
    const mixed = header(resultsTable(resultsFile([matmulCase('cuda', 'bf16', 8192, 700), allreduceCase('nccl', 'auto', 1 << 28, 370)])));
    for (const col of ['TFLOP/s', '% peak', 'algbw GB/s', 'busbw GB/s']) expect(mixed).toContain(col);
  });
});
