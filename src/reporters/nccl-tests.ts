/**
 * The `nccl-tests` console reporter (`--format nccl-tests`): collective results in the
 * columns `all_reduce_perf` prints — size, count, type, redop, root, then time, algbw,
 * busbw and #wrong out of place and in place — one block per collective, backend,
 * algorithm and topology, and nccl-tests' footer. Its users can diff the two outputs line
 * by line. Times are nccl-tests' convention (`ncclTests` in the results); cases of the
 * in-process backends, which do not run that loop, print gpubench's median instead.
 */
import type { PlannedCase } from '../harness/plan.js';
import type { Reporter } from '../harness/reporter.js';
import type { CaseResult, ResultsFile } from '../harness/results/schema.js';
import { averageBusBw, isRooted, NCCL_TYPE_NAMES, ncclTestsView } from '../collectives/nccl-tests.js';
import type { CollectiveDtype } from '../collectives/dtypes.js';

const pad = (s: string | number, w: number): string => String(s).padStart(w);

/** nccl-tests prints times with 2 decimals, and fewer as they grow. */
const fmtTime = (us: number): string => (us >= 1e6 ? us.toExponential(1) : us >= 1e4 ? us.toFixed(0) : us.toFixed(2));
const fmtBw = (x: number): string => (x >= 1e4 ? x.toFixed(0) : x.toFixed(2));

/** The header nccl-tests prints above its rows. */
export const NCCL_TESTS_HEADER = [
  '#                                                              out-of-place                       in-place          ',
  '#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong',
  '#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)       ',
];

/** One placement's four columns, blank where that placement was not run. */
function placement(c: CaseResult | undefined): string {
  const v = c ? ncclTestsView(c) : undefined;
  if (!c || !v) return `  ${pad(c ? 'N/A' : '', 7)}  ${pad('', 6)}  ${pad('', 6)}  ${pad(c ? 'N/A' : '', 5)}`;
  return `  ${pad(fmtTime(v.time), 7)}  ${pad(fmtBw(v.algbw), 6)}  ${pad(fmtBw(v.busbw), 6)}  ${pad(v.wrong, 5)}`;
}

/** The rows of a run's collective cases, in nccl-tests' layout, blocks in first-seen order. */
export function ncclTestsTable(results: ResultsFile): string[] {
  const blocks = new Map<string, { title: string; rows: Map<string, { key: (string | number)[]; out?: CaseResult; inp?: CaseResult }> }>();
  for (const c of results.cases) {
    const p = c.params as { bytes?: number; count?: number; dtype?: CollectiveDtype; op?: string; root?: number; algorithm?: string; ranks?: number; nodes?: number; inPlace?: boolean };
    if (typeof p.bytes !== 'number' || p.inPlace === undefined) continue;
    const kernel = c.impl?.kernel ?? p.algorithm ?? '';
    const title = `# ${c.workload} on ${c.backend}: ${p.ranks ?? '?'} ranks on ${p.nodes ?? '?'} host${p.nodes === 1 ? '' : 's'}, algorithm ${p.algorithm}${kernel && kernel !== p.algorithm ? ` (${kernel})` : ''}`;
    const blockKey = `${c.workload}|${c.backend}|${p.algorithm}|${p.ranks}|${p.nodes}`;
    const block = blocks.get(blockKey) ?? { title, rows: new Map() };
    blocks.set(blockKey, block);
    const root = isRooted(c.workload) ? (p.root ?? 0) : -1;
    const key = [p.bytes, p.count ?? 0, p.dtype ? NCCL_TYPE_NAMES[p.dtype] ?? p.dtype : '?', p.op ?? 'none', root];
    const rowKey = key.join('|');
    const row = block.rows.get(rowKey) ?? { key };
    block.rows.set(rowKey, row);
    if (p.inPlace) row.inp = c;
    else row.out = c;
  }
  const lines: string[] = [];
  for (const b of blocks.values()) {
    lines.push('#', b.title, ...NCCL_TESTS_HEADER);
    for (const r of b.rows.values()) {
      const [size, count, type, redop, root] = r.key;
      lines.push(`  ${pad(size!, 10)}  ${pad(count!, 12)}  ${pad(type!, 8)}  ${pad(redop!, 6)}  ${pad(root!, 6)}${placement(r.out)}${placement(r.inp)}`);
    }
  }
  return lines;
}

/** nccl-tests' footer: wrong values, and the average bus bandwidth `--min-busbw` judges. */
export function ncclTestsFooter(results: ResultsFile, minBusBw?: number): string[] {
  const coll = results.cases.filter((c) => typeof c.params.bytes === 'number' && c.params.inPlace !== undefined);
  const wrong = coll.reduce((s, c) => s + (ncclTestsView(c)?.wrong ?? c.check?.wrong ?? 0), 0);
  const avg = averageBusBw(coll);
  const verdict = minBusBw === undefined || !avg ? '' : avg.gbps < minBusBw ? ` FAILED (below --min-busbw ${minBusBw})` : ' OK';
  return [
    `# Out of bounds values : ${wrong} ${wrong ? 'FAILED' : 'OK'}`,
    `# Avg bus bandwidth    : ${avg ? avg.gbps.toPrecision(6) : 'n/a'}${verdict}${avg ? `  (over ${avg.cases} case${avg.cases === 1 ? '' : 's'} of S >= ${avg.fromBytes} B)` : ''}`,
    '#',
  ];
}

/** Prints the nccl-tests table at the end of a run (with a one-line note as each case ends). */
export class NcclTestsReporter implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout, private readonly minBusBw?: number) {}

  onRunStart(plan: PlannedCase[], results: ResultsFile): void {
    this.out.write(`# gpubench ${results.run.version} (nccl-tests format): ${plan.length} cases\n`);
  }

  onCaseEnd(r: CaseResult): void {
    if (r.status !== 'ok') this.out.write(`# ${r.status === 'skipped' ? 'skipped' : 'FAILED'} ${r.id}: ${r.reason ?? ''}\n`);
  }

  onRunEnd(results: ResultsFile): void {
    this.out.write(`${[...ncclTestsTable(results), ...ncclTestsFooter(results, this.minBusBw)].join('\n')}\n`);
  }
}
