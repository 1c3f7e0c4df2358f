/**
 * The body of `gpubench run` (and of `gpubench coordinator`): loaded when one of them runs,
 * not at start-up, since it pulls in the backends, the control plane and the reporters.
 */
import { basename, dirname, join } from 'node:path';
import { loadSuite } from '../../suite.js';
import { planRun } from '../../plan.js';
import { recordFailedStart, runPlan } from '../../runner.js';
import { redactArgv } from '../../redact.js';
import { disposeBackends, forgetProbe } from '../../registry.js';
import { RANK_BACKENDS } from '../../../collectives/control/protocol.js';
import { ExitCode, UsageError } from '../../errors.js';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { MeasureOptions } from '../../measure.js';
import { loadReporters, parseFormats, ResultsFileReporter, writeReports } from '../../../reporters/index.js';
import { tally } from '../../../reporters/console.js';
import '../../../kernels/index.js';
import { randomBytes } from 'node:crypto';
import { setWorld } from '../../../collectives/world.js';
import { startCluster, type Cluster } from '../../../collectives/control/cluster-run.js';
import { addFits } from '../../../collectives/fit.js';
import { AVERAGE_MODES, averageBusBw, NCCL_TYPE_ALIASES } from '../../../collectives/nccl-tests.js';
import { NcclTestsReporter } from '../../../reporters/nccl-tests.js';
import { JsReductionNotice } from '../../../reporters/js-reduction.js';
import { applyFloors, floorMessage, parseFloor, type Floor } from '../../floors.js';
import { loadAcceptance } from '../../acceptance.js';
import { writeJsonAtomic } from '../../../reporters/results-file.js';
import type { ClusterSettings, RunCliOptions } from './run.js';

/** Console formats of `--format`. */
const CONSOLE_FORMATS = ['gpubench', 'nccl-tests'] as const;

/** Imports plugin modules (they register backends, kernels or workloads on import). */
export async function loadPlugins(paths: string[] = []): Promise<void> {
  for (const p of paths) {
    try {
      await import(pathToFileURL(resolve(p)).href);
    } catch (err) {
      throw new UsageError(`cannot load plugin ${p}: ${(err as Error).message}`, '--plugin');
    }
  }
}

/** Runs `run` or `coordinator`; returns the exit code. */
export async function runCli(opts: RunCliOptions, rawArgv: string[], clusterSettings?: ClusterSettings): Promise<number> {
  // The command line is recorded in the results (and from there in reports and exports): no secrets.
  const argv = redactArgv(rawArgv);
  if (opts.format !== undefined && !(CONSOLE_FORMATS as readonly string[]).includes(opts.format))
    throw new UsageError(`"${opts.format}" is not one of ${CONSOLE_FORMATS.join(', ')}`, '--format');
  if (opts.gpusPerProcess !== undefined && opts.localNodes === undefined)
    throw new UsageError('--gpus-per-process runs several ranks in each of --local-nodes\' worker processes: give --local-nodes too (or start `gpubench worker --gpus-per-process N`)', '--gpus-per-process');
  if (opts.localNodes !== undefined) {
    const gpus = opts.gpusPerProcess ?? 1;
    clusterSettings = { worldSize: opts.localNodes * gpus, localNodes: opts.localNodes, gpusPerProcess: gpus, host: '127.0.0.1', port: 0, token: randomBytes(16).toString('hex') };
  }
  if (clusterSettings) {
    clusterSettings.average = AVERAGE_MODES[opts.average ?? 1];
    // nccl-tests' -T: a case that has not ended on every rank by then fails the run, naming the ranks.
    if (opts.timeout !== undefined) clusterSettings.caseTimeoutMs = opts.timeout * 1000;
  }
  const dtypes = mergeDatatypes(opts.dtypes, opts.datatype);
  // Local workers share this host; a coordinator learns its workers' hosts at rendezvous.
  setWorld(clusterSettings ? { ranks: clusterSettings.worldSize, ...(clusterSettings.localNodes ? { hosts: 1 } : {}) } : undefined);
  await loadPlugins(opts.plugin);
  // Validate report formats before measuring anything. `json` is the results file itself.
  const reportFormats = opts.report ? parseFormats(opts.report, '--report').filter((f) => f !== 'json') : [];
  const suite = loadSuite(opts.suite);
  // Floors are checked before anything is measured: a typo must not cost a whole run.
  const floors: Floor[] = (opts.min ?? []).map((t) => parseFloor(t));
  const acceptance = opts.acceptance !== undefined ? loadAcceptance(opts.acceptance) : undefined;
  if (acceptance) floors.push(...acceptance.floors);
  const measure: MeasureOptions = { ...suite.measure };
  if (opts.minTime !== undefined) measure.minTimeMs = opts.minTime;
  if (opts.warmup !== undefined) measure.warmupMs = opts.warmup;
  if (opts.maxWarmup !== undefined) measure.maxWarmupMs = opts.maxWarmup;
  if (opts.repetitions !== undefined) measure.repetitions = opts.repetitions;
  if (opts.check !== undefined) measure.checkIters = opts.check;
  if (opts.iters !== undefined) measure.ncclIters = opts.iters;
  if (opts.warmupIters !== undefined) measure.ncclWarmupIters = opts.warmupIters;

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\ngpubench: stopping after this case (Ctrl-C again to quit now; results so far are on disk)\n');
  };
  process.on('SIGINT', onSigint);
  let cluster: Cluster | undefined;
  try {
    const filters = {
      workloads: opts.workloads,
      backends: opts.backends,
      overrides: {
        sizes: opts.sizes,
        dtypes,
        minBytes: opts.minBytes,
        maxBytes: opts.maxBytes,
        stepFactor: opts.stepFactor,
        stepBytes: opts.stepBytes,
        algorithm: opts.algorithm,
        op: opts.op,
        inPlace: opts.inPlace || opts.outOfPlace ? [...(opts.outOfPlace ? [false] : []), ...(opts.inPlace ? [true] : [])] : undefined,
        chunkBytes: opts.chunkBytes,
        root: opts.root,
        burnSeconds: opts.burnSeconds,
      },
    };
    let plan = await planRun(suite, filters);
    const sayUnavailable = () => {
      for (const u of plan.unavailable) process.stderr.write(`gpubench: ${u.backend} unavailable: ${u.reason}\n`);
    };
    // A world's plan is final once its workers have joined (what they probed decides `nccl`).
    if (!clusterSettings) sayUnavailable();
    const jsonPath = opts.json ?? join(opts.out, `gpubench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const fileReporter = new ResultsFileReporter(jsonPath);
    const consoleReporters = opts.format === 'nccl-tests' ? [new NcclTestsReporter(process.stdout, opts.minBusbw)] : await loadReporters(opts.reporter);
    // The notice after the console's table: collectives that fell back to the JS reduction say so once.
    const reporters = [...consoleReporters, new JsReductionNotice(process.stderr), fileReporter];
    // Multi-process: the plan is valid (usage errors came first); now assemble the world.
    if (clusterSettings) {
      try {
        cluster = await startCluster(clusterSettings);
      } catch (err) {
        // Nothing was measured, but the failure is on disk like any other.
        await recordFailedStart(plan, { argv, suite: suite.name, reporters: [fileReporter] }, err);
        process.stderr.write(`results: ${jsonPath} (status failed)\n`);
        throw err;
      }
      // Case ids carry the topology (ranks and hosts), and backends whose cases run on every
      // rank are available as the workers' own probes say: plan again now that both are known.
      setWorld({ ranks: clusterSettings.worldSize, hosts: cluster.hosts, workers: cluster.workers });
      for (const b of RANK_BACKENDS) forgetProbe(b);
      plan = await planRun(suite, filters);
      sayUnavailable();
    }
    const results = await runPlan(plan, {
      measure,
      reporters,
      argv,
      suite: suite.name,
      shouldStop: () => stopRequested,
      // In one process (local adapters as ranks) the collective sweeps get their fits too.
      ...(cluster ? { execute: cluster.execute, annotate: cluster.annotate, finalize: cluster.finalize } : { finalize: addFits }),
    }).catch(async (err: unknown) => {
      await cluster?.close(err instanceof Error ? err.message : String(err));
      cluster = undefined;
      process.stderr.write(`results: ${jsonPath} (status failed)\n`);
      throw err;
    });
    await cluster?.close();
    cluster = undefined;
    let floorsFailed = false;
    if (floors.length > 0) {
      if (acceptance) results.run.acceptance = { name: acceptance.profile.name, path: acceptance.path, ...(acceptance.profile.gpu ? { gpu: acceptance.profile.gpu } : {}) };
      const outcomes = applyFloors(results, floors);
      // The results file gains the verdicts before anything is printed or can fail.
      writeJsonAtomic(jsonPath, results);
      for (const o of outcomes) for (const line of floorMessage(o, results.cases)) process.stderr.write(`${line}\n`);
      const met = outcomes.filter((o) => o.passed).length;
      floorsFailed = met < outcomes.length;
      process.stderr.write(`gpubench: floors: ${met} of ${outcomes.length} met${acceptance ? ` (acceptance ${acceptance.profile.name})` : ''}${floorsFailed ? ': FAILED' : ''}\n`);
    }
    process.stderr.write(`results: ${jsonPath} (and ${fileReporter.jsonlPath})\n`);
    if (reportFormats.length > 0) {
      const written = await writeReports(results, reportFormats, dirname(jsonPath), basename(jsonPath, '.json'));
      process.stderr.write(`reports: ${written.join(', ')}\n`);
    }
    const n = tally(results);
    if (n.ok + n.failed === 0) process.stderr.write('gpubench: warning: no case ran (all skipped)\n');
    if (n.failed > 0 || floorsFailed) return ExitCode.failed;
    if (opts.minBusbw !== undefined) {
      const avg = averageBusBw(results.cases);
      if (!avg) {
        process.stderr.write(`gpubench: --min-busbw ${opts.minBusbw}: no collective case ran, nothing to judge\n`);
        return ExitCode.failed;
      }
      const verdict = avg.gbps < opts.minBusbw ? 'FAILED' : 'ok';
      process.stderr.write(`gpubench: average busbw ${avg.gbps.toPrecision(4)} GB/s over ${avg.cases} case(s) of S >= ${avg.fromBytes} B; --min-busbw ${opts.minBusbw}: ${verdict}\n`);
      if (verdict === 'FAILED') return ExitCode.failed;
    }
    // Stopped by Ctrl-C: what was measured is on disk, but the run is not complete.
    return results.run.status === 'partial' ? ExitCode.interrupted : ExitCode.ok;
  } finally {
    process.off('SIGINT', onSigint);
    await cluster?.close('coordinator stopped');
    setWorld(undefined);
    await disposeBackends();
  }
}

/** `--dtypes` and nccl-tests' `-d` names together (e.g. `-d float,half`). */
function mergeDatatypes(dtypes: string[] | undefined, datatype: string[] | undefined): string[] | undefined {
  if (!datatype) return dtypes;
  const mapped = datatype.flatMap((d) => {
    if (d.toLowerCase() === 'all') return [...new Set(Object.values(NCCL_TYPE_ALIASES))];
    const ours = NCCL_TYPE_ALIASES[d.toLowerCase()];
    if (!ours) throw new UsageError(`"${d}" is not a type gpubench's collectives have; allowed: ${Object.keys(NCCL_TYPE_ALIASES).join(', ')}`, '--datatype');
    return ours;
  });
  return [...new Set([...(dtypes ?? []), ...mapped])];
}
