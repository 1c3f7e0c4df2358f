/**
 * A history of many runs: every case's median and spread per run, in the order the runs
 * started, with the change points E-Divisive finds in its per-run medians. A case on a
 * different device, backend or topology (ranks, nodes) is a different series: its level
 * is not comparable.
 */
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { caseOk, caseStats, headline, paramNumber, sig } from '../cases.js';
import { deviceName } from '../charts.js';
import { CHANGE_POINT_DEFAULTS, eDivisive, type ChangePointOptions } from './changepoints.js';

/** One run of the history. */
export interface HistoryRun {
  id: string;
  startedAt: string;
  /** The code's commit, where the run recorded one. */
  commit?: string;
  version: string;
  /** Short x-axis label: UTC date and time, and the commit's first 8 characters. */
  label: string;
}

/** A case's measurement in one run. */
export interface HistoryPoint {
  /** Index into `History.runs`. */
  run: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  samples: number;
  /** Headline metric (TFLOP/s, GB/s) at the median, and at the p90 / p10 times. */
  value?: number;
  lo?: number;
  hi?: number;
}

/** A change of level in a series. */
export interface HistoryChange {
  /** Index into the series' points of the first point at the new level. */
  point: number;
  /** The run that first shows it. */
  runId: string;
  runLabel: string;
  /** Median of the per-run medians of the level before and of the level from this run on (until the next change). */
  beforeMs: number;
  afterMs: number;
  /** afterMs / beforeMs: above 1 is slower. */
  ratio: number;
  pValue: number;
}

/** One case on one device and topology across runs. */
export interface HistorySeries {
  key: string;
  caseId: string;
  label: string;
  workload: string;
  backend: string;
  device: string;
  unit?: string;
  points: HistoryPoint[];
  changes: HistoryChange[];
}

/** Everything a history report shows. */
export interface History {
  runs: HistoryRun[];
  /** Series seen in at least two runs, those with change points first. */
  series: HistorySeries[];
  /** How change points were found. */
  method: { name: 'e-divisive'; alpha: number; permutations: number; minSegment: number };
}

/** Series key: the case id, the device it ran on and its topology. */
export function seriesKey(results: ResultsFile, c: CaseResult): string {
  const ranks = paramNumber(c, 'ranks');
  const nodes = paramNumber(c, 'nodes');
  return [c.id, deviceName(results, c), ranks !== undefined ? `${ranks} ranks` : '', nodes !== undefined ? `${nodes} nodes` : ''].filter(Boolean).join(' · ');
}

function runLabel(r: ResultsFile['run']): string {
  const d = new Date(r.startedAt);
  const when = Number.isNaN(d.getTime()) ? r.startedAt : d.toISOString().slice(0, 16).replace('T', ' ');
  return r.commit ? `${when} ${r.commit.slice(0, 8)}` : when;
}

/** Runs in the order they started (ties by id), each once. */
function orderRuns(files: ResultsFile[]): ResultsFile[] {
  const byId = new Map<string, ResultsFile>();
  for (const f of files) if (!byId.has(f.run.id)) byId.set(f.run.id, f);
  return [...byId.values()].sort((a, b) => Date.parse(a.run.startedAt) - Date.parse(b.run.startedAt) || a.run.id.localeCompare(b.run.id));
}

/** Stable 32-bit hash of a string (FNV-1a): each series' shuffles get their own seed. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const medianOf = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Builds the history of `files` (any order; a run given twice counts once) and finds
 * the change points of every series seen in at least two runs.
 */
export function buildHistory(files: ResultsFile[], options: ChangePointOptions = {}): History {
  const opts = { ...CHANGE_POINT_DEFAULTS, ...options };
  const ordered = orderRuns(files);
  const runs: HistoryRun[] = ordered.map((f) => ({
    id: f.run.id, startedAt: f.run.startedAt, version: f.run.version, label: runLabel(f.run), ...(f.run.commit ? { commit: f.run.commit } : {}),
  }));
  const series = new Map<string, HistorySeries>();
  ordered.forEach((f, run) => {
    for (const c of f.cases) {
      const st = caseStats(c);
      if (!caseOk(c) || !st) continue;
      const key = seriesKey(f, c);
      let s = series.get(key);
      if (!s) {
        const h = headline(c);
        s = { key, caseId: c.id, label: key, workload: c.workload, backend: c.backend, device: deviceName(f, c), points: [], changes: [], ...(h ? { unit: h.unit } : {}) };
        series.set(key, s);
      }
      // A case id twice in one run (merged hosts) keeps the first.
      if (s.points.at(-1)?.run === run) continue;
      const h = headline(c);
      s.points.push({
        run, medianMs: st.medianMs, p10Ms: st.p10Ms, p90Ms: st.p90Ms, samples: c.samplesMs.length,
        ...(h ? { value: h.value, lo: h.lower, hi: h.upper } : {}),
      });
    }
  });
  const kept = [...series.values()].filter((s) => s.points.length >= 2);
  for (const s of kept) {
    const medians = s.points.map((p) => p.medianMs);
    const cps = eDivisive(medians, { ...opts, seed: hash(s.key) });
    const bounds = [0, ...cps.map((c) => c.index), medians.length];
    s.changes = cps.map((cp, i) => {
      const beforeMs = medianOf(medians.slice(bounds[i]!, cp.index));
      const afterMs = medianOf(medians.slice(cp.index, bounds[i + 2]!));
      const run = runs[s.points[cp.index]!.run]!;
      return { point: cp.index, runId: run.id, runLabel: run.label, beforeMs, afterMs, ratio: afterMs / beforeMs, pValue: cp.pValue };
    });
  }
  kept.sort((a, b) => Number(b.changes.length > 0) - Number(a.changes.length > 0));
  return { runs, series: kept, method: { name: 'e-divisive', alpha: opts.alpha, permutations: opts.permutations, minSegment: opts.minSegment } };
}

/** "+23.1% slower" / "−12% faster" for a time ratio. */
export function changeText(ratio: number): string {
  const pct = (ratio - 1) * 100;
  return `${pct >= 0 ? '+' : '−'}${sig(Math.abs(pct), 3)}% time (${ratio > 1 ? 'slower' : 'faster'})`;
}

/** True when the files form a history: some series appears in two or more runs. */
export function isHistory(files: ResultsFile[]): boolean {
  const seen = new Map<string, Set<string>>();
  for (const f of files) {
    for (const c of f.cases) {
      const key = seriesKey(f, c);
      const runs = seen.get(key) ?? new Set<string>();
      runs.add(f.run.id);
      if (runs.size >= 2) return true;
      seen.set(key, runs);
    }
  }
  return false;
}
