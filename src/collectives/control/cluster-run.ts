/**
 * A multi-process run from the coordinating process: the coordinator, optionally N
 * local worker processes on loopback (`--local-nodes N`), and the executor the runner
 * calls for each case — collective cases go to every rank, anything else runs here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { PlannedCase } from '../../harness/plan.js';
import { runCase, type RunOptions } from '../../harness/runner.js';
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { getWorkload } from '../../harness/registry.js';
import { freshSeed } from '../../harness/random.js';
import { summarize } from '../../harness/stats.js';
import { BUS_FACTOR, COLLECTIVES } from '../collective.js';
import { DEFAULT_NCCL_LOOP, isRooted, ncclTestsRecord, type AverageMode } from '../nccl-tests.js';
import type { MeasureOptions } from '../../harness/measure.js';
import { callOf, type CollectiveParams } from '../workload.js';
import { addFits } from '../fit.js';
import { Coordinator, type CoordinatorOptions, type RankBackend } from './coordinator.js';
import { RANK_BACKENDS } from './protocol.js';
import { LAUNCHER_VARIABLES } from './launchers.js';
import { UsageError } from '../../harness/errors.js';
import type { WorldWorker } from '../world.js';
import type { RankCaseResult } from '../rank-case.js';
import { applyLink, gpuGroupCeiling, ncclNetworkCeiling, networkCeiling } from '../../harness/topology/links.js';
import { backendGpus } from '../../harness/topology/host.js';
import type { HostTopology, LinkSpec } from '../../harness/topology/schema.js';

const CLI = fileURLToPath(new URL('../../cli.js', import.meta.url));

/** A coordinator with its world assembled. */
export interface Cluster {
  coordinator: Coordinator;
  url: string;
  /** Distinct hosts the ranks run on. */
  hosts: number;
  /** The worker processes, their ranks and their backend probes (to plan the world's cases from). */
  workers: WorldWorker[];
  /** Runner hooks: the executor, `environment.nodes` + `run.cluster`, and the fits. */
  execute: NonNullable<RunOptions['execute']>;
  annotate: NonNullable<RunOptions['annotate']>;
  finalize: NonNullable<RunOptions['finalize']>;
  /** Ends the run on every worker (done, or abort with a reason and exit code) and reaps local workers. */
  close(abortReason?: string, exitCode?: number): Promise<void>;
}

/** Whether a backend's cases run on every worker (`ws`, `nccl`) rather than in this process. */
const isRankBackend = (b: string): b is RankBackend => (RANK_BACKENDS as readonly string[]).includes(b);

/** Starts `n` worker processes of this CLI against `url`, each running `gpusPerProcess` ranks. */
export function spawnLocalWorkers(n: number, url: string, token: string | undefined, gpusPerProcess = 1): ChildProcess[] {
  const perProcess = gpusPerProcess > 1 ? ['--gpus-per-process', String(gpusPerProcess)] : [];
  return Array.from({ length: n }, (_, i) =>
    // Workers inherit this process's Node flags (e.g. --cpu-prof, --max-old-space-size).
    spawn(process.execPath, [...process.execArgv, CLI, 'worker', '--coordinator', url, ...perProcess], {
      stdio: ['ignore', 'ignore', 'inherit'],
      // The token travels in the environment, not argv, where `ps` would show it. A launcher's
      // variables (this process may itself be a Slurm task) are cleared: these ranks are ours.
      env: { ...process.env, ...Object.fromEntries(LAUNCHER_VARIABLES.map((v) => [v, ''])), GPUBENCH_TOKEN: token ?? '', GPUBENCH_RANK: String(i), GPUBENCH_WORLD_SIZE: String(n), GPUBENCH_LOCAL_RANK: String(i) },
    }),
  );
}

/** How to report a case in nccl-tests' convention: its loop (from the measure options) and -a. */
export interface NcclTestsSettings {
  average: AverageMode;
  measure?: Pick<MeasureOptions, 'ncclIters' | 'ncclWarmupIters'>;
  /** Worker processes the ranks ran in (fewer than the ranks with `--gpus-per-process`). @default one per rank */
  processes?: number;
}

/** Merges every rank's result of one case into the case's result. */
export function mergeRanks(c: PlannedCase, p: CollectiveParams, ranks: RankCaseResult[], hosts: string[], nccl: NcclTestsSettings = { average: 'avg' }, link?: LinkSpec): CaseResult {
  const workload = getWorkload<CollectiveParams, unknown>(c.workload)!;
  const nodes = new Set(hosts).size;
  const lead = ranks[0]!;
  const bad = ranks.filter((r) => !r.check.passed);
  const rels = ranks.map((r) => r.check.maxRelError);
  const result: CaseResult = {
    id: c.id,
    workload: c.workload,
    backend: c.backend,
    device: `${ranks.length} ranks on ${nodes} host${nodes === 1 ? '' : 's'}, ${lead.device ? `NCCL: ${devicesOf(ranks)}` : 'WebSocket/TCP'}`,
    params: { ...workload.describe(p), nodes },
    timer: lead.timer ?? 'wall-clock',
    samplesMs: lead.samplesMs ?? [],
    metrics: {},
    check: {
      passed: bad.length === 0,
      maxRelError: rels.some((x) => x === null) ? null : Math.max(...(rels as number[])),
      tolerance: lead.check.tolerance,
      wrong: ranks.reduce((s, r) => s + r.check.wrong, 0),
      checked: ranks.reduce((s, r) => s + (r.check.checked ?? 0), 0),
      ...(lead.check.seed !== undefined ? { seed: lead.check.seed } : {}),
    },
    impl: c.backend === 'nccl'
      ? ncclImpl(ranks, hosts, nccl.processes ?? ranks.length)
      : {
          kernel: lead.algorithm,
          // Host reduction per rank: native (the addon's vectorised loops) or js; "mixed" says some ranks lacked the addon.
          config: { chunkBytes: p.chunkBytes, transport: 'ws', reduction: reductionOf(ranks) },
        },
    status: 'failed',
    ...(lead.warmup ? { warmup: lead.warmup } : {}),
    ranks: ranks.map((r, i) => {
      const own = lead.perRankSamplesMs?.[i] ?? [];
      return { rank: r.rank, host: hosts[i] ?? '?', samplesMs: own, ...(own.length ? { medianMs: summarize(own).medianMs } : {}), check: r.check };
    }),
  };
  if (bad.length > 0) {
    result.reason = `wrong result on rank${bad.length > 1 ? 's' : ''} ${bad.map((r) => r.rank).join(', ')}: ${bad.reduce((s, r) => s + r.check.wrong, 0)} wrong of ${result.check!.checked} checked`;
    return result;
  }
  if (result.samplesMs.length === 0) {
    result.reason = 'no samples';
    return result;
  }
  result.stats = summarize(result.samplesMs);
  result.metrics = workload.metrics({ ...p, ranks: ranks.length }, result.stats.medianMs, {});
  if (lead.ncclTimesUs?.length === ranks.length)
    result.ncclTests = ncclTestsRecord(p, {
      loop: { iters: nccl.measure?.ncclIters ?? DEFAULT_NCCL_LOOP.iters, warmupIters: nccl.measure?.ncclWarmupIters ?? DEFAULT_NCCL_LOOP.warmupIters },
      average: nccl.average,
      busFactor: BUS_FACTOR[p.kind](ranks.length),
      rankTimesUs: lead.ncclTimesUs,
      nwrong: result.check!.wrong,
      samplesMs: result.samplesMs,
      rooted: isRooted(p.kind),
    });
  applyLink(result, link);
  result.status = 'ok';
  return result;
}

/**
 * The link a collective across the world's ranks crossed: the network between hosts when the
 * ranks span several (`ws`: the slowest data interface, which its TCP links cross; `nccl`: the
 * slowest host's active RDMA ports together, NCCL's own transport); on one host, nccl's GPUs' NVLink or
 * PCIe (as the workers reported them, else this process's NVML); `ws` on one
 * host crosses loopback, which has no ceiling.
 */
export function worldLink(backend: string, nodes: { hostname: string; node: Record<string, unknown> }[], ranks: RankCaseResult[]): LinkSpec | undefined {
  if (new Set(nodes.map((n) => n.hostname)).size > 1) {
    const hosts = nodes.map((n) => ({ hostname: n.hostname, topology: n.node.topology }));
    return backend === 'nccl' ? ncclNetworkCeiling(hosts) : networkCeiling(hosts);
  }
  if (backend !== 'nccl') return undefined;
  const used = new Set(ranks.map((r) => /\((cuda:\d+)\)$/.exec(r.device ?? '')?.[1]));
  // The workers' own view of the host's GPUs (they opened NVML for their probe before their
  // hello); the coordinator may have no GPU stack open: it plans from the workers.
  const reported = (nodes[0]?.node.topology as HostTopology | undefined)?.gpus ?? [];
  const gpus = reported.length ? reported : backendGpus().gpus;
  return gpuGroupCeiling(gpus.filter((g) => g.id !== undefined && used.has(g.id)));
}

/**
 * Starts the coordinator, spawns `localNodes` workers if asked, and waits for the
 * world. On failure everything started is stopped again before the error propagates.
 */
export async function startCluster(o: CoordinatorOptions & { localNodes?: number; gpusPerProcess?: number; average?: AverageMode }): Promise<Cluster> {
  // Rank 0's progress goes to the reporters of the case in flight, as a local case's samples do.
  let current: { c: PlannedCase; opts: RunOptions } | undefined;
  const coordinator = new Coordinator({
    ...o,
    onProgress: (_index, samples) => {
      if (current) for (const r of current.opts.reporters) r.onCaseSample?.(current.c, samples);
    },
  });
  const url = await coordinator.listen();
  const children = o.localNodes ? spawnLocalWorkers(o.localNodes, url, o.token, o.gpusPerProcess) : [];
  let closing = false;
  const childExit = children.map((ch, i) => new Promise<void>((resolve) => ch.once('exit', (code, signal) => {
    if (!closing && code !== 0) coordinator.reportFault(`local worker ${i} (pid ${ch.pid}) exited with ${signal ?? `code ${code}`}`);
    resolve();
  })));
  const close = async (abortReason?: string, exitCode?: number) => {
    closing = true;
    await coordinator.close(abortReason, exitCode);
    const grace = setTimeout(() => {
      for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    }, 5000);
    await Promise.all(childExit);
    clearTimeout(grace);
  };
  try {
    if (children.length) process.stderr.write(`gpubench: coordinator ${url}, ${children.length} local worker processes\n`);
    else process.stderr.write(`gpubench: coordinator listening on ${url}, waiting for ${o.worldSize} workers\n`);
    await coordinator.rendezvous();
  } catch (err) {
    await close(err instanceof Error ? err.message : String(err), err instanceof UsageError ? 2 : undefined);
    throw err;
  }
  let caseIndex = 0;
  const hosts = () => coordinator.rankHosts;
  return {
    coordinator,
    url,
    hosts: new Set(hosts()).size,
    workers: coordinator.workers,
    close,
    async execute(c, opts) {
      if (c.skip || !isRankBackend(c.backend) || !(COLLECTIVES as readonly string[]).includes(c.workload)) return runCase(c, opts);
      const p = c.params as CollectiveParams;
      current = { c, opts };
      try {
        // The layout the coordinator saw decides `auto` for small messages on every rank alike.
        const ranks = await coordinator.runCase(caseIndex++, c.id, { ...callOf(p), cpuBound: coordinator.cpuBound }, freshSeed(), opts.measure, c.backend);
        return mergeRanks(c, p, ranks, hosts(), { average: o.average ?? 'avg', measure: opts.measure, processes: coordinator.nodes.length }, worldLink(c.backend, coordinator.nodes, ranks));
      } finally {
        current = undefined;
      }
    },
    annotate(results: ResultsFile) {
      const first = coordinator.firstRanks;
      results.environment.nodes = coordinator.nodes.map((h, i) => ({
        rank: first[i]!, ...h.node, hostname: h.hostname, pid: h.pid, dataHost: h.dataHost, dataPort: h.dataPort,
        ...(h.ranks !== undefined && h.ranks > 1 ? { ranks: h.ranks, dataPorts: h.dataPorts } : {}),
        ...(h.launcher ? { launcher: h.launcher } : {}), ...(h.localRank !== undefined ? { localRank: h.localRank } : {}),
        // What the worker probed where it runs (its GPUs, NCCL), as it reported them at hello.
        ...(h.backends ? { backends: h.backends } : {}),
      }));
      results.run.cluster = { runId: coordinator.runId, worldSize: o.worldSize, coordinator: reachableUrl(url), cpuBound: coordinator.cpuBound, protocolErrors: coordinator.protocolErrors };
    },
    finalize(results: ResultsFile) {
      addFits(results);
      if (results.run.cluster) results.run.cluster.protocolErrors = coordinator.protocolErrors;
    },
  };
}

/** "NVIDIA H100 80GB HBM3 ×4" or the distinct devices the ranks ran on. */
function devicesOf(ranks: RankCaseResult[]): string {
  const names = ranks.map((r) => (r.device ?? '?').replace(/ \(cuda:\d+\)$/, ''));
  const distinct = [...new Set(names)];
  return distinct.length === 1 ? `${distinct[0]} ×${ranks.length}` : distinct.join(', ');
}

/** What a multi-process nccl case ran: NCCL's version on every rank, each rank's GPU. */
function ncclImpl(ranks: RankCaseResult[], hosts: string[], processes: number): CaseResult['impl'] {
  const versions = [...new Set(ranks.map((r) => r.ncclVersion ?? '?'))];
  const config: Record<string, string | number | boolean> = {
    ncclVersion: versions.join(', '),
    ranks: ranks.length,
    devices: ranks.map((r, i) => `${hosts[i] ?? '?'}:${/\((cuda:\d+)\)$/.exec(r.device ?? '')?.[1] ?? '?'}`).join(','),
    bootstrap: 'gpubench control plane',
  };
  for (const k of ['NCCL_ALGO', 'NCCL_PROTO'] as const) if (process.env[k]) config[k] = process.env[k]!;
  return {
    kernel: 'nccl',
    config,
    notes: [
      processes === ranks.length
        ? `${ranks.length} processes, one GPU each (ncclCommInitRank; the ncclUniqueId from rank 0 over gpubench's data links), NCCL's own algorithm and protocol`
        : `${ranks.length} ranks, one GPU each, in ${processes} processes (each process's ranks brought up and called in one ncclGroupStart/ncclGroupEnd; the ncclUniqueId from rank 0 over gpubench's data links), NCCL's own algorithm and protocol`,
      ...(versions.length > 1 ? [`the ranks loaded different NCCL versions: ${versions.join(', ')}`] : []),
    ],
  };
}

/** The coordinator's URL as a worker would use it: a wildcard bind address becomes this host's name. */
function reachableUrl(url: string): string {
  return url.replace(/^ws:\/\/(0\.0\.0\.0|\[::\])(?=:)/, `ws://${hostname()}`);
}

/** "native", "js", or "mixed (native on ranks …, js on ranks …)" from the ranks' reports. */
function reductionOf(ranks: { rank: number; reduction?: 'native' | 'js' }[]): string {
  const by = (k: string) => ranks.filter((r) => (r.reduction ?? 'js') === k).map((r) => r.rank);
  const native = by('native');
  const js = by('js');
  if (js.length === 0) return 'native';
  if (native.length === 0) return 'js';
  return `mixed (native on ranks ${native.join(', ')}, js on ranks ${js.join(', ')})`;
}
