/**
 * The default console reporter: a live progress line on a TTY (plain lines otherwise,
 * for CI logs), then a table of every case in the field's units.
 */
import Table from 'cli-table3';
import { createLogUpdate } from 'log-update';
import pc from 'picocolors';
import type { PlannedCase } from '../harness/plan.js';
import type { CasePhase, Reporter, RunStartInfo } from '../harness/reporter.js';
import { clock, RunClock } from './progress.js';
import type { CaseResult, ResultsFile, Summary } from '../harness/results/schema.js';
import { fmtMs, fmtPct, fmtTflops } from './format.js';

/** Where the console reporter writes, and whether it may redraw a line. */
export interface ConsoleOptions {
  out?: NodeJS.WriteStream;
  tty?: boolean;
}

const statusText = (s: CaseResult['status']): string =>
  s === 'ok' ? pc.green('ok') : s === 'failed' ? pc.red('FAILED') : pc.yellow('skipped');

/** One line per finished case, as plain-text logs want it. */
export function caseLine(r: CaseResult): string {
  if (r.status === 'skipped') return `${statusText(r.status)} ${r.id}: ${r.reason ?? ''}`;
  if (r.status === 'failed') return `${statusText(r.status)} ${r.id}: ${r.reason ?? ''}`;
  const s = r.stats!;
  return `${statusText(r.status)} ${r.id}  median ${fmtMs(s.medianMs)} ms (cv ${(s.cv * 100).toFixed(1)}%, ${r.samplesMs.length} samples, ${r.timer}${unsettled(r)})${rounds(r)}  ${throughput(r)}  err ${r.check?.maxRelError?.toExponential(1) ?? '-'}${power(r)}`;
}

/** Interleaved repetitions: the round kept and every round's median. */
const rounds = (r: CaseResult): string =>
  r.repetitions ? ` [round ${r.repetitions.chosen + 1} of ${r.repetitions.medianMs.length}${r.repetitions.medianMs.length < r.repetitions.planned ? ` (${r.repetitions.planned} planned)` : ''}: ${r.repetitions.medianMs.map((m) => fmtMs(m)).join(', ')} ms]` : '';

/** Says so where the warm-up ran out of time while the calls were still getting faster. */
const unsettled = (r: CaseResult): string =>
  r.warmup?.settled === false ? `, ${pc.yellow(`warm-up unsettled after ${(r.warmup.ms / 1000).toFixed(1)} s`)}` : '';

/** The case's headline throughput with its unit. */
function throughput(r: CaseResult): string {
  const m = r.metrics;
  // Collectives report bandwidth as nccl-tests does (algbw/busbw), copies GB/s, compute TFLOP/s.
  if (m.usPerLaunch !== undefined) return `${m.usPerLaunch.toFixed(2)} µs/launch (${Math.round(m.launchesPerSecond ?? 0)} launches/s)`;
  if (m.busbwGBps !== undefined) return `algbw ${fmtGBps(m.algbwGBps)} busbw ${fmtGBps(m.busbwGBps)} GB/s`;
  // Copies: bytes copied / time, as nvbandwidth; the read+write traffic beside it, labelled.
  if (m.tflops === undefined && m.bandwidthGBps !== undefined)
    return `${m.bandwidthGBps.toFixed(1)} GB/s copy${m.readWriteGBps !== undefined ? ` (${m.readWriteGBps.toFixed(1)} GB/s read+write)` : ''}`;
  return `${fmtTflops(m.tflops)} TFLOP/s`;
}

/** Board power over the timed region, where the backend sampled it. */
function power(r: CaseResult): string {
  const m = r.metrics;
  if (m.avgWatts === undefined) return '';
  return `  ${m.avgWatts.toFixed(0)} W${m.tflopsPerWatt !== undefined ? ` (${m.tflopsPerWatt.toFixed(2)} TFLOP/s/W)` : ''}`;
}

/** A workload's summary (a bandwidth matrix, per-GPU verdicts) as a titled table. */
export function summaryTable(s: Summary): string {
  const t = new Table({ head: s.columns, style: { head: [], border: [] } });
  for (const row of s.rows) t.push(row.map((v) => (v === null ? 'N/A' : typeof v === 'number' ? fmtGBps(v) : v)));
  return `${s.title}\n${t.toString()}`;
}

/** 1048576 → `1 MiB`, as nccl-tests' sizes are read. */
function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n} ${units[i]}`;
}

const fmtGBps = (x: number | undefined): string => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));

/**
 * The final table of a run: busbw columns when it has collective cases, TFLOP/s and
 * % peak unless it has nothing but collectives (where they would be a column of dashes).
 */
export function resultsTable(results: ResultsFile): string {
  const bw = results.cases.some((r) => r.metrics.busbwGBps !== undefined);
  // Copies (bytes copied / time, as nvbandwidth) and launch latency get their own columns.
  const copy = results.cases.some((r) => r.metrics.bandwidthGBps !== undefined);
  const launch = results.cases.some((r) => r.metrics.usPerLaunch !== undefined);
  const flops = results.cases.some((r) => r.metrics.tflops !== undefined) || (!bw && !copy && !launch);
  const t = new Table({
    head: ['case', 'device', 'timer', 'median ms', 'p10–p90 ms', 'cv', ...(flops ? ['TFLOP/s', '% peak'] : []), ...(bw ? ['algbw GB/s', 'busbw GB/s'] : []), ...(copy ? ['copy GB/s'] : []), ...(launch ? ['µs/launch'] : []), 'rel err', 'status'],
    style: { head: [], border: [] },
    // No rule between rows: a sweep is read down its columns.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const r of results.cases) {
    const s = r.stats;
    const bwCells = bw ? [fmtGBps(r.metrics.algbwGBps), fmtGBps(r.metrics.busbwGBps)] : [];
    t.push([
      r.id,
      r.device.length > 28 ? `${r.device.slice(0, 27)}…` : r.device || '-',
      r.timer ?? '-',
      fmtMs(s?.medianMs),
      s ? `${fmtMs(s.p10Ms)}–${fmtMs(s.p90Ms)}` : '-',
      s ? fmtPct(s.cv * 100) : '-',
      ...(flops ? [fmtTflops(r.metrics.tflops), fmtPct(r.metrics.pctOfPeak)] : []),
      ...bwCells,
      ...(copy ? [fmtGBps(r.metrics.bandwidthGBps)] : []),
      ...(launch ? [r.metrics.usPerLaunch === undefined ? '-' : r.metrics.usPerLaunch.toFixed(2)] : []),
      r.check?.maxRelError != null ? r.check.maxRelError.toExponential(1) : '-',
      r.status === 'ok' ? 'ok' : r.status,
    ]);
  }
  return t.toString();
}

/** Counts of ok / failed / skipped cases. */
export function tally(results: ResultsFile): { ok: number; failed: number; skipped: number } {
  const n = { ok: 0, failed: 0, skipped: 0 };
  for (const r of results.cases) n[r.status]++;
  return n;
}

export class ConsoleReporter implements Reporter {
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly live?: ReturnType<typeof createLogUpdate>;
  private current = '';
  private samples?: number;
  private ticker?: NodeJS.Timeout;
  private run?: RunClock;
  private inCase = false;

  constructor(opts: ConsoleOptions = {}) {
    this.out = opts.out ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.out.isTTY && !process.env.CI);
    if (this.tty) this.live = createLogUpdate(this.out, { showCursor: true });
  }

  onRunStart(plan: PlannedCase[], results: ResultsFile, info?: RunStartInfo): void {
    const devs = results.devices.map((d) => `${d.backend}: ${d.name}`).join('; ');
    this.out.write(`gpubench ${results.run.version}: ${plan.length} cases${devs ? ` on ${devs}` : ''}\n`);
    // Each interleaved round of a case is one more case for the clock.
    this.run = new RunClock(plan.filter((c) => !c.skip).length * (info?.measure.repetitions ?? 1), Date.now(), info?.measure);
  }

  onCaseStart(c: PlannedCase, index: number, total: number): void {
    const bytes = (c.params as { bytes?: unknown }).bytes;
    this.current = `[${index + 1}/${total}] ${c.id}${typeof bytes === 'number' ? `  ${fmtBytes(bytes)}` : ''}`;
    this.samples = undefined;
    this.inCase = !c.skip;
    this.run?.caseStarted(Date.now());
    if (this.live) {
      this.redraw();
      // A long warm-up must not look hung: the phase's seconds and the run's ETA tick even
      // without samples (collective cases run on the workers, which report rank 0's samples now and then).
      this.ticker ??= setInterval(() => this.redraw(), 1000);
      this.ticker.unref();
    }
  }

  onCasePhase(_c: PlannedCase, phase: CasePhase): void {
    this.run?.phase(phase, Date.now());
    this.redraw();
  }

  onCaseSample(_c: PlannedCase, samples: number): void {
    this.samples = samples;
    // Cases run by remote ranks report samples but no phases: a sample means sampling.
    if (this.run && this.run.currentPhase === 'starting') this.run.phase('samples', Date.now());
    this.redraw();
  }

  /** The live line: case, phase and its seconds, samples so far, the run's elapsed time and ETA. */
  progressLine(now = Date.now()): string {
    const run = this.run;
    if (!run) return this.current;
    // A case run by remote ranks says nothing before its first sample: check or warm-up.
    const phase = run.currentPhase === 'starting' ? 'check/warm-up' : run.currentPhase;
    const left = run.remaining(now, this.inCase);
    return `${this.current}  ${phase} ${(run.phaseElapsed(now) / 1000).toFixed(0)} s${this.samples !== undefined ? `  sample ${this.samples}` : ''}` +
      `  · run ${clock(run.elapsed(now))}${left !== undefined ? `, ETA ~${clock(left)}` : ''}`;
  }

  private redraw(): void {
    if (!this.live) return;
    this.live(this.progressLine());
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** A round of a repeated case ended: the clock counts it; the case's line waits for its last round. */
  onRepetitionEnd(): void {
    if (this.inCase) this.run?.caseEnded(Date.now());
    this.inCase = false;
  }

  onCaseEnd(r: CaseResult): void {
    if (this.inCase) this.run?.caseEnded(Date.now());
    this.inCase = false;
    if (this.live) {
      this.stopTicker();
      this.live.clear();
    }
    this.out.write(`${caseLine(r)}\n`);
  }

  onRunEnd(results: ResultsFile): void {
    this.stopTicker();
    this.live?.done();
    this.out.write(`${resultsTable(results)}\n`);
    for (const s of Object.values(results.summaries ?? {}).flat()) this.out.write(`${summaryTable(s)}\n`);
    const n = tally(results);
    const summary = `${n.ok} ok, ${n.failed} failed, ${n.skipped} skipped${results.run.status === 'partial' ? ' (interrupted: partial results)' : ''}`;
    this.out.write(`${n.failed > 0 ? pc.red(summary) : summary}\n`);
  }
}
