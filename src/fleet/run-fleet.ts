/**
 * `gpubench fleet` from the coordinating process: assembles the world (local worker
 * processes or workers started by any launcher), then runs the phases, writing the
 * results file after each: every node's matmul at once, the pair schedule round by
 * round, a ring all-reduce over the whole group; then the verdict. A rank that is lost
 * on the way (closed, silent, hung past a task's deadline) is named and the run goes
 * on with the others.
 */
import { renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { median } from 'simple-statistics';
import { Coordinator, type CoordinatorOptions } from '../collectives/control/coordinator.js';
import { spawnLocalWorkers } from '../collectives/control/cluster-run.js';
import { fingerprint } from '../harness/environment.js';
import { packageVersion } from '../harness/version.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../harness/results/schema.js';
import { freshSeed } from '../harness/random.js';
import { roundCount, scheduleRound, bisectionLevels, kBatches } from './schedule.js';
import { verdict, suspectRanks, type MetricSeries, type Subject, type Suspect } from './verdict.js';
import { compressHostlist } from './hostlist.js';
import { busbwGBps, groupSuspect, judgeGroups, MIN_K_BATCH_OTHERS, ringPrediction, slowAgainstPairs, slowestWithin, type GroupJudged, type GroupRun } from './bisect.js';
import { telemetryEvidence, type NodeTelemetry } from './telemetry.js';
import type { GroupAllReduceResult, NodeCaseResult, PairsResult } from './protocol.js';

/** How to run a fleet check. */
export interface FleetOptions {
  coordinator: CoordinatorOptions;
  /** Spawn this many local worker processes (`--local-nodes`). */
  localNodes?: number;
  /** A task not answered by a rank within this is that rank hung. */
  taskTimeoutMs: number;
  tolerance: number;
  alpha: number;
  minMads: number;
  /** Pair latencies closer to the median than this (µs) are not evidence. */
  latencyFloorUs: number;
  backend: string;
  matmulSize: number;
  dtype?: string;
  warmupMs: number;
  /** Matmul samples per node, and how long each lasts (every rank calls for that long, at once). */
  samples: number;
  sampleMs: number;
  pairBytes: number;
  pairSamples: number;
  pingSamples: number;
  /** Most pairs measured at once (k-batches of a round); 0: all the round's pairs that fit the hosts' cores. */
  pairsAtOnce: number;
  /** `memcpy` phase backend: auto (the matmul's where it can, else any with a memcpy kernel), none, or an id. */
  memcpyBackend: string;
  /** memcpy bytes per copy (0: by device: 256 MiB on hardware, 16 MiB on a software adapter). */
  memcpyBytes: number;
  /** 0: no whole-group all-reduce. */
  allreduceBytes: number;
  /** Ring all-reduces over consecutive batches of k ranks, all at once (0: none). */
  allreduceK: number;
  /** Bisect a whole-group all-reduce that is slow against its pairs. */
  bisect: boolean;
  jsonPath: string;
  excludeFile?: string;
  argv: string[];
  log: (line: string) => void;
}

/** One node's row in the results. */
export interface FleetNode {
  rank: number;
  host: string;
  pid: number;
  backend?: string;
  device?: string;
  size?: number;
  dtype?: string;
  samplesMs: number[];
  medianMs: number | null;
  tflops: number | null;
  error?: string;
  /** The device copy, where this node has a backend that runs it. */
  memcpy?: {
    backend: string;
    device: string;
    bytes: number;
    /** ms per copy, one per lockstep sample. */
    samplesMs: number[];
    medianMs: number | null;
    /** bytes / median time, GB/s. */
    bandwidthGBps: number | null;
    error?: string;
    /** No backend here runs memcpy (not a fault: the phase skips this node). */
    unavailable?: string;
  };
  /** Device telemetry over each phase's timed calls (warm-up and samples), or why there is none. */
  telemetry?: { matmul?: NodeTelemetry; memcpy?: NodeTelemetry };
}

/** A group's ring all-reduce in the results: ranks, ms per call, busbw per sample. */
export interface FleetGroupRun {
  ranks: number[];
  samplesMs: number[];
  busbwGBps: number[];
  medianBusbwGBps: number | null;
  error?: string;
}

/** One link's row: the pair, its samples, what went wrong. */
export interface FleetLink {
  a: number;
  b: number;
  round: number;
  bandwidthMBps: number[];
  latencyUs: number[];
  error?: string;
  /** The first look at a link measured again (its samples above are the latest look's). */
  first?: { bandwidthMBps: number[]; latencyUs: number[] };
  /** How it was last measured again: alone, or with the other pairs of its round (a blamed node's rounds). */
  again?: 'alone' | 'round';
}

/** The `fleet` section of the results file. */
export interface FleetSection {
  worldSize: number;
  tolerance: number;
  alpha: number;
  minMads: number;
  phases: { matmul: string; memcpy: string; pairs: string; allreduce: string };
  /** Wall time of each phase, ms (rendezvous included: how long the world took to form). */
  phaseMs: Record<string, number>;
  nodes: FleetNode[];
  pairs: {
    bytes: number;
    rounds: number;
    links: FleetLink[];
    /** Median per pair by rank, symmetric; null on the diagonal and where unmeasured. */
    matrix: { bandwidthMBps: (number | null)[][]; latencyUs: (number | null)[][] };
  };
  allreduce?:
    | {
        bytes: number;
        algorithm: string;
        medianMs: number;
        algbwGBps: number;
        busbwGBps: number;
        samplesMs: number[];
        /** What the pairs predict: the ring's slowest link's pair bandwidth (GB/s), and the verdict on it. */
        predicted?: { link: [number, number]; busbwGBps: number; ratio: number; p: number; slow: boolean };
      }
    | { skipped: string };
  /** Bisection of a whole-group all-reduce slow against its pairs: each level's groups, and what was localised. */
  bisection?: { reason: string; levels: { groups: FleetGroupRun[]; judged: GroupJudged[] }[]; localised?: number[]; skipped?: string };
  /** k-batch all-reduces: consecutive groups of k ranks, all at once. */
  kBatches?: { k: number; groups: FleetGroupRun[]; judged: GroupJudged[] };
  lost: { rank: number; host: string; reason: string }[];
  suspects: (Suspect & { hosts: string[] })[];
  /** Hosts of the suspect nodes (slow, blamed for their links, or lost) as a Slurm hostlist. */
  exclude: string;
}

const med = (xs: number[]) => (xs.length ? median(xs) : null);

/** Runs the fleet check; returns the exit code: 0 no suspect, 1 suspects, 3 the world never formed. */
export async function runFleet(o: FleetOptions): Promise<number> {
  const coordinator = new Coordinator({ ...o.coordinator, tolerateLoss: true, caseTimeoutMs: o.taskTimeoutMs, log: o.log });
  const url = await coordinator.listen();
  const children: ChildProcess[] = o.localNodes ? spawnLocalWorkers(o.localNodes, url, o.coordinator.token) : [];
  const exits = children.map((ch) => new Promise<void>((r) => (ch.exitCode !== null ? r() : ch.once('exit', () => r()))));
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  let tPhase = Date.now();
  const lap = (name: string) => {
    fleet.phaseMs[name] = Date.now() - tPhase;
    tPhase = Date.now();
  };
  const results: ResultsFile & { fleet?: FleetSection } = {
    schema: RESULTS_SCHEMA,
    run: { id: randomUUID(), startedAt, argv: o.argv, version: packageVersion(), status: 'partial', suite: 'fleet' },
    environment: fingerprint(),
    devices: [],
    cases: [],
  };
  const write = () => {
    mkdirSync(dirname(o.jsonPath), { recursive: true });
    writeFileSync(`${o.jsonPath}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
    renameSync(`${o.jsonPath}.tmp`, o.jsonPath);
  };
  const close = async (reason?: string) => {
    await coordinator.close(reason);
    const grace = setTimeout(() => children.forEach((ch) => ch.exitCode === null && ch.signalCode === null && ch.kill('SIGKILL')), 5000);
    await Promise.all(exits);
    clearTimeout(grace);
  };
  try {
    o.log(children.length ? `gpubench fleet: coordinator ${url}, ${children.length} local worker processes` : `gpubench fleet: coordinator listening on ${url}, waiting for ${o.coordinator.worldSize} workers`);
    await coordinator.rendezvous();
  } catch (err) {
    results.run.status = 'failed';
    results.run.fault = err instanceof Error ? err.message : String(err);
    results.run.finishedAt = new Date().toISOString();
    write();
    await close(results.run.fault);
    o.log(`gpubench fleet: ${results.run.fault}\nresults: ${o.jsonPath} (status failed)`);
    return 3;
  }
  const n = o.coordinator.worldSize;
  const hello = coordinator.nodes;
  const host = (r: number) => hello[r]?.hostname ?? '?';
  results.environment.nodes = hello.map((h, rank) => ({ rank, ...h.node, hostname: h.hostname, pid: h.pid, dataHost: h.dataHost, dataPort: h.dataPort, ...(h.launcher ? { launcher: h.launcher } : {}) }));
  results.run.cluster = { runId: coordinator.runId, worldSize: n, coordinator: url, cpuBound: coordinator.cpuBound, protocolErrors: coordinator.protocolErrors };
  const fleet: FleetSection = {
    worldSize: n,
    tolerance: o.tolerance,
    alpha: o.alpha,
    minMads: o.minMads,
    phases: { matmul: 'pending', memcpy: o.memcpyBackend === 'none' ? 'off' : 'pending', pairs: 'pending', allreduce: o.allreduceBytes > 0 ? 'pending' : 'off' },
    phaseMs: { rendezvous: Date.now() - t0 },
    nodes: hello.map((h, rank) => ({ rank, host: h.hostname, pid: h.pid, samplesMs: [], medianMs: null, tflops: null })),
    pairs: { bytes: o.pairBytes, rounds: roundCount(n), links: [], matrix: { bandwidthMBps: square(n), latencyUs: square(n) } },
    lost: [],
    suspects: [],
    exclude: '',
  };
  results.fleet = fleet;
  tPhase = Date.now();
  let index = 0;
  /** Subgroups named by the all-reduce phase (bisection, k-batches): judged there, kept here. */
  const groupSuspects: Suspect[] = [];
  const update = () => {
    fleet.lost = [...coordinator.lost].map(([rank, reason]) => ({ rank, host: host(rank), reason }));
    const v = [...judge(fleet, o, host), ...groupSuspects].sort((a, b) => (a.kind === 'lost' ? -1 : b.kind === 'lost' ? 1 : (b.slowdown ?? 0) - (a.slowdown ?? 0)));
    fleet.suspects = v.map((s) => ({ ...s, hosts: [...new Set(s.ranks.map(host))] }));
    // Whole nodes to drain: those slow themselves, blamed for their links, or lost; a single
    // bad link between healthy nodes is named but drains neither end.
    fleet.exclude = compressHostlist(suspectRanks(v.filter((s) => s.kind !== 'link')).map(host));
    write();
  };
  // Between pair rounds the verdict and the file are brought up to date only while that costs
  // at most a tenth of the time: at 1,024 nodes one verdict takes ~5 s and the file holds
  // 0.5M links, so doing both after each of 1,023 rounds would cost the coordinator an hour.
  let updateMs = 0;
  let updatedAt = 0;
  const updateSometimes = () => {
    if (Date.now() - updatedAt < 9 * updateMs) return;
    const t = Date.now();
    update();
    updatedAt = Date.now();
    updateMs = updatedAt - t;
  };
  write();

  // 1. Every node alone, at the same time: the matmul, then the device copy.
  // Lockstep: every rank prepares (loads, checks, warms up: seconds, and different by node),
  // then each sample runs the same calls on every rank at once, the coordinator the barrier.
  const nodePhase = async (workload: 'matmul' | 'memcpy') => {
    const base = workload === 'matmul'
      ? { kind: 'node-case' as const, workload, backend: o.backend, size: o.matmulSize, ...(o.dtype ? { dtype: o.dtype } : {}), warmupMs: o.warmupMs }
      : { kind: 'node-case' as const, workload, backend: o.memcpyBackend, size: o.memcpyBytes, warmupMs: o.warmupMs };
    o.log(`gpubench fleet: phase 1/3: loading, checking and warming up the ${workload} on every node`);
    // Loading a backend is part of getting ready: it has the rendezvous's deadline, not a task's.
    const prep = await coordinator.runTask(index++, () => ({ ...base, step: 'prepare' }), Math.max(o.taskTimeoutMs, o.coordinator.rendezvousTimeoutMs ?? 120_000));
    for (const [rank, r] of prep) {
      const m = r as NodeCaseResult;
      const nd = fleet.nodes[rank]!;
      if (workload === 'matmul') Object.assign(nd, { backend: m.backend, device: m.device, size: m.size, dtype: m.dtype, ...(m.error ? { error: m.error } : {}) });
      else nd.memcpy = { backend: m.backend, device: m.device, bytes: m.size, samplesMs: [], medianMs: null, bandwidthGBps: null, ...(m.error ? { error: m.error } : {}), ...(m.unavailable ? { unavailable: m.unavailable } : {}) };
    }
    const sampling = [...prep].filter(([, r]) => !r.error && !(r as NodeCaseResult).unavailable).map(([rank]) => rank);
    if (sampling.length === 0) return;
    o.log(`gpubench fleet: phase 1/3: ${workload} on every node at once: ${o.samples} samples of ${o.sampleMs} ms`);
    // One lockstep sample first, not kept: the first calls with every rank busy at once are
    // slower everywhere (caches, clocks, the scheduler settling), which says nothing of a node.
    for (let s = -1; s < o.samples && sampling.length > 0; s++) {
      const got = await coordinator.runTask(index++, (rank) => (sampling.includes(rank) ? { ...base, step: 'sample', durationMs: o.sampleMs } : undefined), o.taskTimeoutMs);
      for (const [rank, r] of got) {
        const m = r as NodeCaseResult;
        const nd = fleet.nodes[rank]!;
        const row = workload === 'matmul' ? nd : nd.memcpy!;
        if (m.perCallMs !== null) {
          if (s >= 0) row.samplesMs.push(m.perCallMs);
          nd.telemetry = { ...nd.telemetry, [workload]: m.telemetry ?? { none: m.noTelemetry ?? 'none reported' } };
        } else if (m.error) row.error = m.error;
      }
    }
  };
  await nodePhase('matmul');
  for (const nd of fleet.nodes) {
    nd.medianMs = med(nd.samplesMs);
    nd.tflops = nd.medianMs && nd.size ? (2 * nd.size ** 3) / (nd.medianMs / 1e3) / 1e12 : null;
  }
  fleet.phases.matmul = 'done';
  lap('matmul');
  update();
  if (o.memcpyBackend !== 'none') {
    await nodePhase('memcpy');
    for (const nd of fleet.nodes) {
      if (!nd.memcpy) continue;
      nd.memcpy.medianMs = med(nd.memcpy.samplesMs);
      nd.memcpy.bandwidthGBps = nd.memcpy.medianMs ? nd.memcpy.bytes / (nd.memcpy.medianMs / 1e3) / 1e9 : null;
    }
    fleet.phases.memcpy = 'done';
    lap('memcpy');
    update();
  }

  // 2. Every link, in rounds of disjoint pairs; pairs with a lost rank are left out.
  const rounds = roundCount(n);
  /** Measures round r's pairs as the schedule has them (batched by the hosts' cores): its links, fresh. */
  const measureRound = async (r: number): Promise<FleetLink[]> => {
    const all = scheduleRound(n, r).pairs;
    const pairs: number[] = [];
    for (let i = 0; i < all.length; i += 2) if (!coordinator.lost.has(all[i]!) && !coordinator.lost.has(all[i + 1]!)) pairs.push(all[i]!, all[i + 1]!);
    const batches = cpuBatches(pairs, hello.map((h) => ({ host: h.hostname, cores: Number(h.node.cpuCount) || 1 }))).flatMap((b) => atMost(b, o.pairsAtOnce));
    o.log(`gpubench fleet: phase 2/3: pairs, round ${r + 1}/${rounds} (${pairs.length / 2} pairs${batches.length > 1 ? `, in ${batches.length} batches` : ''})`);
    const got = new Map<number, PairsResult>();
    for (const batch of batches) {
      const inBatch = new Set(batch);
      const answers = await coordinator.runTask(index++, (rank) => (inBatch.has(rank) ? { kind: 'pairs', pairs: batch, bytes: o.pairBytes, samples: o.pairSamples, pingSamples: o.pingSamples } : undefined), o.taskTimeoutMs);
      for (const [rank, a] of answers) got.set(rank, a as PairsResult);
    }
    const links: FleetLink[] = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const [a, b] = [pairs[i]!, pairs[i + 1]!];
      const lead = got.get(a) as PairsResult | undefined;
      const echo = got.get(b) as PairsResult | undefined;
      const link: FleetLink = { a, b, round: r, bandwidthMBps: lead?.bandwidthMBps ?? [], latencyUs: lead?.latencyUs ?? [] };
      const error = lead?.error ?? echo?.error ?? (!lead ? `rank ${a} gave no answer` : !echo ? `rank ${b} gave no answer` : undefined);
      if (error) link.error = error;
      links.push(link);
    }
    return links;
  };
  const toMatrix = (l: FleetLink) => {
    fleet.pairs.matrix.bandwidthMBps[l.a]![l.b] = fleet.pairs.matrix.bandwidthMBps[l.b]![l.a] = med(l.bandwidthMBps);
    fleet.pairs.matrix.latencyUs[l.a]![l.b] = fleet.pairs.matrix.latencyUs[l.b]![l.a] = med(l.latencyUs);
  };
  /** A second look replaces a link's samples; the first look is kept beside them. */
  const lookAgain = (link: FleetLink, again: { bandwidthMBps: number[]; latencyUs: number[] }, how: 'alone' | 'round') => {
    link.first ??= { bandwidthMBps: link.bandwidthMBps, latencyUs: link.latencyUs };
    link.again = how;
    link.bandwidthMBps = again.bandwidthMBps;
    link.latencyUs = again.latencyUs;
    toMatrix(link);
  };
  /** Every link by its pair, for the second looks (a fleet of 4,096 nodes has 8.4M links). */
  const byPair = new Map<string, FleetLink>();
  for (let r = 0; r < rounds; r++) {
    for (const link of await measureRound(r)) {
      fleet.pairs.links.push(link);
      byPair.set(`${link.a}-${link.b}`, link);
      toMatrix(link);
    }
    updateSometimes();
  }
  // A link named on its own may have met a passing disturbance (its round's pairs were measured
  // together): it is measured again, alone, and stays suspect only if the second look agrees
  // (each link once, at most 2n). A node blamed for its links may have had a bad few seconds
  // rather than a bad port (a healthy process of six on a 2-core CI host, descheduled through
  // its rounds, had every link 28% slower at 5.5 MADs): the rounds of (at most
  // NODE_RETEST_ROUNDS of) its links are measured again as they were first, every pair of the
  // round at once, so its links are judged against links measured alike (each node once, at
  // most NODE_RETESTS). Every subject one verdict names is looked at again before the next
  // verdict (one verdict is seconds at 1,024 nodes); a second look changes the spread and other
  // links with it, so the verdict is looked at again after each batch.
  const linksRetested = new Set<string>();
  const nodesRetested = new Set<number>();
  update();
  for (;;) {
    const links = fleet.suspects.filter((x) => x.via === 'link' && !linksRetested.has(x.ranks.join('-'))).slice(0, Math.max(0, 2 * n - linksRetested.size));
    const nodes = fleet.suspects.filter((x) => x.via === 'links' && !nodesRetested.has(x.ranks[0]!)).slice(0, Math.max(0, NODE_RETESTS - nodesRetested.size));
    if (links.length === 0 && nodes.length === 0) break;
    for (const s of links) {
      linksRetested.add(s.ranks.join('-'));
      const [a, b] = s.ranks as [number, number];
      if (coordinator.lost.has(a) || coordinator.lost.has(b)) continue;
      o.log(`gpubench fleet: phase 2/3: measuring link ${a}↔${b} again, alone (${s.metric} looked ${(100 * (s.slowdown ?? 0)).toFixed(0)}% slow)`);
      const got = await coordinator.runTask(index++, (rank) => (rank === a || rank === b ? { kind: 'pairs', pairs: [a, b], bytes: o.pairBytes, samples: o.pairSamples, pingSamples: o.pingSamples } : undefined), o.taskTimeoutMs);
      const lead = got.get(a) as PairsResult | undefined;
      const link = byPair.get(`${a}-${b}`);
      if (link && lead?.bandwidthMBps?.length) lookAgain(link, { bandwidthMBps: lead.bandwidthMBps, latencyUs: lead.latencyUs ?? [] }, 'alone');
    }
    // The blamed nodes' rounds, each round once however many of them it holds.
    const rounds = new Set<number>();
    for (const s of nodes) {
      const node = s.ranks[0]!;
      nodesRetested.add(node);
      if (coordinator.lost.has(node)) continue;
      const again = spreadPick([...new Set(fleet.pairs.links.filter((l) => l.a === node || l.b === node).map((l) => l.round))].sort((x, y) => x - y), NODE_RETEST_ROUNDS);
      o.log(`gpubench fleet: phase 2/3: rank ${node}'s links looked ${(100 * (s.slowdown ?? 0)).toFixed(0)}% slow: measuring ${again.length} of its rounds again`);
      for (const r of again) rounds.add(r);
    }
    for (const r of [...rounds].sort((x, y) => x - y)) {
      for (const l of await measureRound(r)) {
        const link = byPair.get(`${l.a}-${l.b}`);
        if (link && l.bandwidthMBps.length) lookAgain(link, l, 'round');
      }
    }
    update();
  }
  fleet.phases.pairs = 'done';
  lap('pairs');

  // 3. A ring all-reduce over the whole group (only while the whole group is there); where it
  // is slow against what its pairs predict and no link explains it, bisection; k-batches.
  const seed = freshSeed();
  /** Ring all-reduces over disjoint groups, all at once (one task); each group's busbw samples. */
  const runGroups = async (groups: number[][]): Promise<FleetGroupRun[]> => {
    const members = new Set(groups.flat());
    const got = await coordinator.runTask(index++, (rank) => (members.has(rank) ? { kind: 'group-allreduce', groups, bytes: o.allreduceBytes, samples: Math.max(o.samples, GROUP_SAMPLES), warmupMs: o.warmupMs, sampleMs: Math.min(o.sampleMs, 50), seed, ...(coordinator.cpuBound ? { cpuBound: true } : {}) } : undefined), o.taskTimeoutMs);
    return groups.map((ranks) => {
      const answers = ranks.map((r) => got.get(r) as GroupAllReduceResult | undefined);
      const error = answers.map((a, i) => (!a ? `rank ${ranks[i]} gave no answer` : a.error ? `rank ${ranks[i]}: ${a.error}` : undefined)).find((e) => e !== undefined);
      const samplesMs = answers[0]?.samplesMs ?? [];
      const bytes = 4 * Math.max(1, Math.floor(o.allreduceBytes / 4));
      const busbw = error ? [] : samplesMs.map((ms) => busbwGBps(bytes, ranks.length, ms));
      return { ranks, samplesMs, busbwGBps: busbw, medianBusbwGBps: med(busbw), ...(error ? { error } : {}) };
    });
  };
  const asRun = (g: FleetGroupRun): GroupRun => ({ ranks: g.ranks, busbwGBps: g.busbwGBps });
  if (o.allreduceBytes > 0) {
    o.log(`gpubench fleet: phase 3/3: ring all-reduce over ${n} ranks`);
    const everyone = Array.from({ length: n }, (_, r) => r);
    if (coordinator.lost.size > 0) fleet.allreduce = { skipped: `ranks ${[...coordinator.lost.keys()].join(', ')} lost` };
    else if (n < 2) fleet.allreduce = { skipped: 'one rank' };
    else {
      const [whole] = await runGroups([everyone]);
      if (!whole || whole.error || whole.samplesMs.length === 0) fleet.allreduce = { skipped: whole?.error ?? 'no samples' };
      else {
        const bytes = 4 * Math.max(1, Math.floor(o.allreduceBytes / 4));
        const ms = median(whole.samplesMs);
        const algbw = bytes / (ms / 1e3) / 1e9;
        const bw = (a: number, b: number) => byPair.get(`${a}-${b}`)?.bandwidthMBps;
        const pred = ringPrediction(everyone, bw);
        const slow = pred ? slowAgainstPairs(whole.busbwGBps, pred, o.tolerance, o.alpha) : undefined;
        fleet.allreduce = { bytes, algorithm: 'ring', medianMs: ms, algbwGBps: algbw, busbwGBps: (algbw * 2 * (n - 1)) / n, samplesMs: whole.samplesMs, ...(pred && slow ? { predicted: { link: pred.link, busbwGBps: pred.busbwGBps, ...slow } } : {}) };
        // Bisect only where no link or node's links explain it (those are named already): their
        // bandwidth, as the prediction is the pairs' bandwidth (a link slow only in latency does
        // not explain a ring far below its links' bandwidth).
        const explained = judge(fleet, o, host).some((s) => (s.via === 'link' || s.via === 'links') && s.metric === 'pair bandwidth');
        if (slow?.slow && o.bisect) {
          const reason = `ring all-reduce busbw ${((algbw * 2 * (n - 1)) / n).toPrecision(3)} GB/s is ${(100 * (1 - slow.ratio)).toFixed(0)}% below the ring's slowest link ${pred!.link.join('↔')} (${pred!.busbwGBps.toPrecision(3)} GB/s), p=${slow.p.toExponential(1)}`;
          fleet.bisection = { reason, levels: [] };
          if (explained) fleet.bisection.skipped = "a link slow in bandwidth, or a node blamed for its links' bandwidth, explains it";
          else {
            let within = everyone;
            for (const level of bisectionLevels(everyone)) {
              if (coordinator.lost.size > 0) break;
              o.log(`gpubench fleet: phase 3/3: bisection level ${fleet.bisection.levels.length + 1}: ${level.length} groups at once (${level.map((g) => g.length).join('+')} ranks)`);
              const groups = await runGroups(level);
              const judged = judgeGroups(groups.map(asRun), o.tolerance, o.alpha, o.minMads);
              fleet.bisection.levels.push({ groups, judged });
              write();
              const next = slowestWithin(judged, within);
              if (!next) break;
              within = next.ranks;
              fleet.bisection.localised = within;
            }
            const last = fleet.bisection.levels.flatMap((l) => l.judged).filter((j) => j.ranks.join() === fleet.bisection!.localised?.join()).pop();
            if (last) groupSuspects.push(groupSuspect(last, 'bisection', host, `the whole group's ${reason}; its halves are not slower than their level`));
          }
        }
      }
    }
    if (o.allreduceK >= 2 && coordinator.lost.size === 0 && n >= 2 * o.allreduceK) {
      const batches = kBatches(n, o.allreduceK).filter((g) => g.length >= 2);
      o.log(`gpubench fleet: phase 3/3: k-batch all-reduces: ${batches.length} groups of ${o.allreduceK} at once`);
      const groups = await runGroups(batches);
      const judged = judgeGroups(groups.map(asRun), o.tolerance, o.alpha, o.minMads, MIN_K_BATCH_OTHERS);
      fleet.kBatches = { k: o.allreduceK, groups, judged };
      for (const j of judged) if (j.slow) groupSuspects.push(groupSuspect(j, 'k-batch', host, ''));
    }
    fleet.phases.allreduce = 'done';
    lap('allreduce');
  }
  update();
  results.run.status = 'complete';
  results.run.finishedAt = new Date().toISOString();
  write();
  await close();
  if (o.excludeFile) {
    mkdirSync(dirname(o.excludeFile), { recursive: true });
    writeFileSync(o.excludeFile, fleet.exclude ? `${fleet.exclude}\n` : '');
  }
  printVerdict(fleet, o.log);
  o.log(`results: ${o.jsonPath}${o.excludeFile ? `; exclude list: ${o.excludeFile}` : ''}`);
  return fleet.suspects.length > 0 ? 1 : 0;
}

/**
 * Fewest samples of a group all-reduce: a level's two halves are told apart by a rank test of
 * their samples, and with 6 against 6 one overlapping sample (a throttled rank that happened
 * to have quota left) already puts p above 0.01; 10 against 10 leaves room for a few.
 */
const GROUP_SAMPLES = 10;

/** Most rounds measured again for one node blamed for its links (enough links for the blame test, bounded at any scale). */
const NODE_RETEST_ROUNDS = 8;
/** Most nodes whose rounds are measured again in one run (each at most once). */
const NODE_RETESTS = 8;

/** At most k of xs, spread evenly over it (all of them when there are no more than k). */
export function spreadPick<T>(xs: readonly T[], k: number): T[] {
  if (xs.length <= k) return [...xs];
  return Array.from({ length: k }, (_, i) => xs[Math.floor(((i + 0.5) * xs.length) / k)]!);
}

const square = (n: number): (number | null)[][] => Array.from({ length: n }, () => Array.from({ length: n }, () => null));

/** The metric series of what has been measured so far, and the verdict on them. */
function judge(f: FleetSection, o: Pick<FleetOptions, 'tolerance' | 'alpha' | 'minMads' | 'latencyFloorUs'>, host: (r: number) => string): Suspect[] {
  // Nodes are compared with nodes that ran the same case (backend, device, size, type).
  const groups = new Map<string, Subject[]>();
  for (const nd of f.nodes) {
    if (nd.samplesMs.length === 0) continue;
    const key = `${nd.backend} ${nd.device} ${nd.dtype} ${nd.size}`;
    groups.set(key, [...(groups.get(key) ?? []), { kind: 'node', ranks: [nd.rank], samples: nd.samplesMs }]);
  }
  const nodeMetrics: MetricSeries[] = [...groups.values()].map((subjects) => ({ metric: 'matmul time', unit: 'ms', better: 'lower', subjects }));
  // The copy: bandwidth per sample, compared among nodes that copied alike (backend, device, bytes).
  const copies = new Map<string, Subject[]>();
  for (const nd of f.nodes) {
    const c = nd.memcpy;
    if (!c || c.samplesMs.length === 0) continue;
    const key = `${c.backend} ${c.device} ${c.bytes}`;
    copies.set(key, [...(copies.get(key) ?? []), { kind: 'node', ranks: [nd.rank], samples: c.samplesMs.map((ms) => c.bytes / (ms / 1e3) / 1e9) }]);
  }
  for (const subjects of copies.values()) nodeMetrics.push({ metric: 'memcpy bandwidth', unit: 'GB/s', better: 'higher', subjects });
  const links = f.pairs.links.filter((l) => l.bandwidthMBps.length > 0);
  const linkMetrics: MetricSeries[] = [
    { metric: 'pair bandwidth', unit: 'MB/s', better: 'higher', subjects: links.map((l) => ({ kind: 'link', ranks: [l.a, l.b], samples: l.bandwidthMBps })) },
    { metric: 'pair latency (p10)', unit: 'µs', better: 'lower', statistic: 'p10', floor: o.latencyFloorUs, subjects: links.map((l) => ({ kind: 'link', ranks: [l.a, l.b], samples: l.latencyUs })) },
  ];
  // A node whose matmul failed is suspect too (it did not lose its connection, but cannot compute).
  const failed = f.nodes.flatMap((nd) => {
    if (f.lost.some((l) => l.rank === nd.rank)) return [];
    const why = [nd.error && `matmul failed: ${nd.error}`, nd.memcpy?.error && `memcpy failed: ${nd.memcpy.error}`].filter(Boolean).join('; ');
    return why ? [{ rank: nd.rank, reason: why }] : [];
  });
  // Telemetry is evidence: a node named slow says what its GPU reported (clocks, power, throttle reasons).
  return verdict({ nodeMetrics, linkMetrics, lost: [...f.lost, ...failed], host }, o).suspects.map((s) => {
    // Links measured a second time that still look slow: say so (the first look was no passing disturbance).
    if (s.via === 'link') {
      const l = f.pairs.links.find((x) => x.a === s.ranks[0] && x.b === s.ranks[1]);
      if (l?.again) s = { ...s, evidence: `${s.evidence}; measured again (${l.again === 'alone' ? 'alone' : 'with its round'}): still slow` };
    } else if (s.via === 'links') {
      const again = f.pairs.links.filter((l) => l.again && (l.a === s.ranks[0] || l.b === s.ranks[0])).length;
      if (again > 0) s = { ...s, evidence: `${s.evidence}; measured again (${again} links, their rounds as at first): still slow` };
    }
    if (s.kind !== 'node') return s;
    const phase = s.metric.startsWith('memcpy') ? 'memcpy' : 'matmul';
    const t = telemetryEvidence(phase, f.nodes[s.ranks[0]!]?.telemetry?.[phase], f.nodes.map((nd) => nd.telemetry?.[phase]));
    return t ? { ...s, evidence: `${s.evidence}; ${t}` } : s;
  });
}

/** The verdict for a person: the suspects, worst first, or that there are none. */
function printVerdict(f: FleetSection, log: (l: string) => void): void {
  const nodes = f.nodes.filter((nd) => nd.medianMs !== null);
  if (nodes.length) {
    const m = median(nodes.map((nd) => nd.medianMs!));
    log(`gpubench fleet: ${nodes.length} nodes' matmul (${nodes[0]!.backend} ${nodes[0]!.dtype} ${nodes[0]!.size}³): median ${m.toPrecision(4)} ms`);
  }
  const bws = f.pairs.links.flatMap((l) => (l.bandwidthMBps.length ? [median(l.bandwidthMBps)] : []));
  if (bws.length) log(`gpubench fleet: ${bws.length} links of ${f.pairs.rounds} rounds: median ${median(bws).toPrecision(4)} MB/s`);
  const copies = f.nodes.flatMap((nd) => (nd.memcpy?.bandwidthGBps ? [nd.memcpy.bandwidthGBps] : []));
  if (copies.length) log(`gpubench fleet: ${copies.length} nodes' memcpy (${f.nodes.find((nd) => nd.memcpy?.bandwidthGBps)!.memcpy!.backend}): median ${median(copies).toPrecision(4)} GB/s`);
  const noCopy = f.nodes.filter((nd) => nd.memcpy?.unavailable);
  if (noCopy.length) log(`gpubench fleet: no memcpy on ranks ${noCopy.map((nd) => nd.rank).join(', ')}: ${noCopy[0]!.memcpy!.unavailable}`);
  if (f.allreduce && 'busbwGBps' in f.allreduce) {
    const p = f.allreduce.predicted;
    log(`gpubench fleet: ring all-reduce of ${f.allreduce.bytes} B over ${f.worldSize} ranks: busbw ${f.allreduce.busbwGBps.toPrecision(3)} GB/s${p ? ` (${(100 * p.ratio).toFixed(0)}% of the slowest ring link's pair bandwidth, ${p.link.join('↔')}: ${p.slow ? 'slow' : 'not slow'} against the pairs)` : ''}`);
  }
  if (f.bisection) log(`gpubench fleet: bisection: ${f.bisection.skipped ?? (f.bisection.localised ? `localised to ranks ${f.bisection.localised.join(',')} in ${f.bisection.levels.length} levels` : `no subgroup slower than its level in ${f.bisection.levels.length} levels`)}`);
  if (f.suspects.length === 0) {
    log('gpubench fleet: verdict: no suspect');
    return;
  }
  log(`gpubench fleet: verdict: ${f.suspects.length} suspect${f.suspects.length === 1 ? '' : 's'}${f.exclude ? ` (exclude: ${f.exclude})` : ''}`);
  f.suspects.forEach((s, i) => log(`  ${i + 1}. SUSPECT ${s.kind === 'link' ? 'link' : s.kind === 'lost' ? 'lost' : 'node'}: ${s.evidence}`));
}

/**
 * A round's pairs in batches measured one after another, so that no host runs more
 * measuring ranks at once than it has cores: pairs on one host (several ranks per host,
 * `--local-nodes`) would otherwise measure the CPU scheduler, not the link. One rank per
 * node on a cluster fits in one batch.
 */
export function cpuBatches(pairs: readonly number[], ranks: readonly { host: string; cores: number }[]): number[][] {
  const batches: { pairs: number[]; busy: Map<string, number> }[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const ends = [pairs[i]!, pairs[i + 1]!];
    const need = new Map<string, number>();
    for (const r of ends) need.set(ranks[r]!.host, (need.get(ranks[r]!.host) ?? 0) + 1);
    const fits = (b: (typeof batches)[number]) =>
      b.pairs.length === 0 || [...need].every(([h, k]) => (b.busy.get(h) ?? 0) + k <= Math.max(2, ranks.find((x) => x.host === h)!.cores));
    let b = batches.find(fits);
    if (!b) batches.push((b = { pairs: [], busy: new Map() }));
    b.pairs.push(...ends);
    for (const [h, k] of need) b.busy.set(h, (b.busy.get(h) ?? 0) + k);
  }
  return batches.map((b) => b.pairs);
}

/** A flat pair list cut into batches of at most `k` pairs (0: one batch). */
export function atMost(pairs: number[], k: number): number[][] {
  if (k <= 0 || pairs.length <= 2 * k) return [pairs];
  const out: number[][] = [];
  for (let i = 0; i < pairs.length; i += 2 * k) out.push(pairs.slice(i, i + 2 * k));
  return out;
}
