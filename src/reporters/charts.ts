/**
 * The data behind the HTML report's plots, independent of the charting library:
 * matmul TFLOP/s vs size (one chart per dtype, one series per backend and device,
 * the datasheet peak as a line) and collective busbw vs message size (one chart per
 * collective and backend, one series per algorithm/dtype/ranks, the link ceiling as a line).
 */
import type { AlphaBetaFit, CaseResult, ResultsFile } from '../harness/results/schema.js';
import { fitSweeps } from '../collectives/fit.js';
import { caseAlgorithm, caseDtype, caseOk, caseStats, headline, paramNumber, ranAlgorithm, sig, sizeLabel } from './cases.js';
import { catalogDtype, datasheetPeak, findGpu, loadCatalog, type GpuEntry } from '../harness/peaks.js';

/** One measured point. */
export interface ChartPoint {
  x: number;
  y: number;
  /** Bounds from the p10/p90 sample times. */
  lo: number;
  hi: number;
  caseId: string;
  /** Size as people say it: `4096×4096×4096`, `1 MiB`. */
  size: string;
  medianMs: number;
  /** Collectives: the algorithm that ran at this size (what `auto` chose). */
  ran?: string;
}

/** A measured series. */
export interface ChartSeries {
  label: string;
  points: ChartPoint[];
}

/** A fitted model drawn as a curve, e.g. busbw(S) from an alpha-beta fit. */
export interface FitCurve {
  label: string;
  /** The series label whose colour it takes, where one matches. */
  series?: string;
  points: { x: number; y: number }[];
}

/** A horizontal ceiling (datasheet peak or link bandwidth). */
export interface Ceiling {
  label: string;
  y: number;
}

/** One plot. */
export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** How the x tick labels are written. */
  xFormat: 'size' | 'bytes';
  series: ChartSeries[];
  ceilings: Ceiling[];
  /** Fitted curves (collectives: the alpha-beta model of each algorithm that ran). */
  fits?: FitCurve[];
  /** Shown under the chart, e.g. why no ceiling is drawn. */
  note?: string;
}

/** Options for building charts. */
export interface ChartOptions {
  linkGBps?: number;
  catalog?: GpuEntry[];
}

/** The device's human name: the case's `device` may be an id into `devices`. */
export function deviceName(results: ResultsFile, c: CaseResult): string {
  const d = results.devices.find((dev) => dev.id === c.device && dev.backend === c.backend) ?? results.devices.find((dev) => dev.id === c.device);
  return d?.name ?? c.device;
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

function point(c: CaseResult, x: number, size: string): ChartPoint | undefined {
  const h = headline(c);
  const st = caseStats(c);
  if (!h || !caseOk(c)) return undefined;
  return { x, y: h.value, lo: h.lower, hi: h.upper, caseId: c.id, size, medianMs: st?.medianMs ?? NaN, ...(isCollectiveCase(c) ? { ran: ranAlgorithm(c) } : {}) };
}

const isCollectiveCase = (c: CaseResult): boolean => c.workload !== 'matmul' && c.workload !== 'memcpy';

/** The run's alpha-beta fits: those it recorded, else fitted here from its cases (older files, merged reports). */
export function collectiveFits(results: ResultsFile): AlphaBetaFit[] {
  return results.collectives?.fits ?? fitSweeps(results.cases);
}

/** Label of a fit: its algorithm, dtype, ranks and the two parameters. */
export function fitLabel(f: AlphaBetaFit): string {
  const bw = f.busbwGBps !== null ? `, busbw → ${sig(f.busbwGBps, 3)} GB/s` : '';
  return `fit ${f.algorithm} · ${f.dtype} · ${f.ranks} ranks: α ${sig(f.alphaUs, 3)} µs${bw}`;
}

/**
 * busbw along a fit over the sizes it was fitted on: busbw(S) = S / (α + β·S) × bus factor,
 * 24 points evenly spaced on the log axis.
 */
export function fitCurve(f: AlphaBetaFit, busFactor: number): { x: number; y: number }[] {
  const alpha = f.alphaUs / 1e6;
  const beta = f.betaNsPerByte / 1e9;
  const lo = Math.log(Math.max(f.minBytes, 1));
  const hi = Math.log(Math.max(f.maxBytes, 1));
  const n = hi > lo ? 24 : 1;
  return Array.from({ length: n }, (_, i) => {
    const x = Math.exp(n === 1 ? lo : lo + ((hi - lo) * i) / (n - 1));
    const t = alpha + beta * x;
    return { x, y: t > 0 ? (x / t / 1e9) * busFactor : 0 };
  });
}

/** Matmul charts, one per dtype. */
export function matmulCharts(results: ResultsFile, opts: ChartOptions = {}): ChartSpec[] {
  const catalog = opts.catalog ?? loadCatalog();
  const cases = results.cases.filter((c) => c.workload === 'matmul');
  const charts: ChartSpec[] = [];
  for (const [dtype, list] of groupBy(cases, caseDtype)) {
    const devicesSeen = new Set(list.map((c) => deviceName(results, c)));
    const series: ChartSeries[] = [];
    for (const [label, group] of groupBy(list, (c) => (devicesSeen.size > 1 ? `${c.backend} · ${deviceName(results, c)}` : c.backend))) {
      const points = group.flatMap((c) => {
        const [m, n, k] = ['m', 'n', 'k'].map((p) => paramNumber(c, p));
        const batch = paramNumber(c, 'batch') ?? 1;
        if (m === undefined || n === undefined || k === undefined) return [];
        // The cube root of the work is the edge of the equivalent square problem.
        const x = Math.cbrt(m * n * k * batch);
        const p = point(c, x, `${m}×${n}×${k}${batch > 1 ? ` ×${batch}` : ''}`);
        return p ? [p] : [];
      });
      if (points.length) series.push({ label, points: points.sort((a, b) => a.x - b.x) });
    }
    const ceilings = new Map<string, Ceiling>();
    for (const c of list) {
      const name = deviceName(results, c);
      const recorded = c.metrics.peakTflops;
      const fromCatalog = datasheetPeak(name, dtype, catalog);
      const y = recorded ?? fromCatalog?.tflops;
      if (y === undefined) continue;
      const gpu = fromCatalog?.gpu ?? name;
      ceilings.set(`${gpu}|${y}`, { label: `${gpu} ${catalogDtype(dtype)} peak ${y} TFLOP/s`, y });
    }
    if (series.length === 0) continue;
    charts.push({
      id: `matmul-${dtype}`,
      title: `Matrix multiply, ${dtype}: TFLOP/s vs size`,
      xLabel: 'size (∛(m·n·k·batch), log scale)',
      yLabel: 'TFLOP/s',
      xFormat: 'size',
      series,
      ceilings: [...ceilings.values()],
      ...(ceilings.size === 0 ? { note: `No datasheet peak for these devices and ${dtype} in configs/gpus.yaml.` } : {}),
    });
  }
  return charts;
}

/** Backends whose collectives run over NVLink, so the catalog's NVLink figure bounds them. */
const NATIVE_COLLECTIVE_BACKENDS = new Set(['nccl', 'rccl', 'cuda']);

/**
 * Collective charts, one per collective and backend (a WebSocket ring over Ethernet
 * and NCCL over NVLink differ by 30×, and each has its own ceiling).
 */
export function collectiveCharts(results: ResultsFile, opts: ChartOptions = {}): ChartSpec[] {
  const catalog = opts.catalog ?? loadCatalog();
  const cases = results.cases.filter((c) => c.workload !== 'matmul');
  const charts: ChartSpec[] = [];
  for (const [group, list] of groupBy(cases, (c) => `${c.workload}|${c.backend}`)) {
    const [workload, backend] = group.split('|') as [string, string];
    const series: ChartSeries[] = [];
    const key = (c: CaseResult) => {
      const ranks = paramNumber(c, 'ranks');
      return `${caseAlgorithm(c)} · ${caseDtype(c)}${ranks !== undefined ? ` · ${ranks} ranks` : ''}`;
    };
    for (const [label, members] of groupBy(list, key)) {
      const points = members.flatMap((c) => {
        const bytes = paramNumber(c, 'bytes');
        if (bytes === undefined || bytes <= 0) return [];
        const p = point(c, bytes, sizeLabel(c));
        return p ? [p] : [];
      });
      if (points.length) series.push({ label, points: points.sort((a, b) => a.x - b.x) });
    }
    if (series.length === 0) continue;
    const ceilings: Ceiling[] = [];
    let note: string | undefined;
    const recorded = list.map((c) => c.metrics.linkGBps).filter((v): v is number => typeof v === 'number');
    const native = NATIVE_COLLECTIVE_BACKENDS.has(backend);
    if (recorded.length) {
      ceilings.push({ label: `link ceiling ${Math.max(...recorded)} GB/s`, y: Math.max(...recorded) });
    } else if (native) {
      // NCCL over NVLink: busbw tops out near the per-direction NVLink bandwidth.
      const gpu = list.map((c) => findGpu(deviceName(results, c), catalog)).find((g) => g?.nvlinkGBps !== undefined);
      if (gpu?.nvlinkGBps !== undefined) ceilings.push({ label: `${gpu.id} NVLink per direction ${gpu.nvlinkGBps / 2} GB/s`, y: gpu.nvlinkGBps / 2 });
      else note = 'No NVLink figure for this GPU in configs/gpus.yaml.';
    } else if (opts.linkGBps !== undefined) {
      ceilings.push({ label: `link ceiling ${opts.linkGBps} GB/s`, y: opts.linkGBps });
    } else {
      note = 'No link ceiling known for this transport: pass --link-gbps (e.g. 12.5 for 100 GbE) to draw one.';
    }
    const fits: FitCurve[] = collectiveFits(results)
      .filter((f) => f.workload === workload && f.backend === backend && f.points >= 2)
      .map((f) => {
        // The bus factor the run applied: busbw / algbw of a case of this fit.
        const member = list.find((c) => ranAlgorithm(c) === f.algorithm && paramNumber(c, 'ranks') === f.ranks && c.metrics.algbwGBps);
        const factor = f.busbwGBps !== null && f.algbwGBps ? f.busbwGBps / f.algbwGBps : member ? member.metrics.busbwGBps! / member.metrics.algbwGBps! : 1;
        const match = series.find((s) => s.label.startsWith(`${f.algorithm} · ${f.dtype}`));
        return { label: fitLabel(f), ...(match ? { series: match.label } : {}), points: fitCurve(f, factor) };
      });
    charts.push({
      id: `collective-${workload}-${backend}`,
      title: `${workload} over ${backend}: bus bandwidth vs message size`,
      xLabel: 'message size (log scale)',
      yLabel: 'busbw GB/s',
      xFormat: 'bytes',
      series,
      ceilings,
      ...(fits.length ? { fits } : {}),
      ...(note ? { note } : {}),
    });
  }
  return charts;
}

/** Every chart of a report, matmul first. */
export function buildCharts(results: ResultsFile, opts: ChartOptions = {}): ChartSpec[] {
  return [...matmulCharts(results, opts), ...collectiveCharts(results, opts)];
}
