/**
 * A worker: one rank. Connects to the coordinator (retrying while it is not up yet),
 * starts its data server, says hello, builds its data links to every peer when welcomed,
 * then runs each case it is sent and reports its rank's result. Heartbeats go out every
 * `heartbeatMs`; a coordinator silent for its heartbeat timeout (it pings every worker)
 * is lost. Resolves with the process exit code: 0 after `done`, 2 when the coordinator
 * refuses this worker's configuration, 3 on any fault (coordinator or a peer lost, an abort).
 */
import { hostname } from 'node:os';
import { WebSocket } from 'ws';
import { ExitCode } from '../../harness/errors.js';
import { fingerprint } from '../../harness/environment.js';
import type { CollectiveCall } from '../collective.js';
import { runRankCase } from '../rank-case.js';
import { NcclRank } from '../nccl/comm.js';
import { NcclLocalGroup } from '../nccl/local-group.js';
import { ncclDevicesFor, probeNcclOnWorker } from '../nccl/world-probe.js';
import { inProcessGroup } from '../inprocess.js';
import { MixedTransport } from '../mixed-transport.js';
import { cudaStack } from '../../kernels/cuda/context.js';
import { runNcclRankCase } from '../nccl/rank-case.js';
import type { Transport } from '../transport.js';
import { connectMesh, DataServer } from '../ws-transport.js';
import { CoordinatorMessage, MAX_CONTROL_MESSAGE, parseFrame, PROTOCOL_VERSION, type WorkerMessage } from './protocol.js';
import type { LaunchInfo } from './launchers.js';
import { isLoopback } from './coordinator.js';
import { connectWithRetry } from './connect.js';
import { runFleetTask } from '../../fleet/worker-tasks.js';

/** How to run a worker. */
export interface WorkerOptions {
  /** ws://host:port of the coordinator. */
  coordinator: string;
  token?: string;
  /**
   * Address this worker's data server announces to its peers.
   * @default the local address of the connection that reached the coordinator
   */
  dataHost?: string;
  /** Bind address of the data server. @default the data host on loopback, else all interfaces */
  dataBind?: string;
  /** Inclusive port range for the data server. @default any free port */
  dataPorts?: readonly [number, number];
  /** How long to keep retrying a coordinator that is not up yet. @default 60000 */
  connectTimeoutMs?: number;
  /** A coordinator silent this long (before its welcome says otherwise) is lost. @default 60000 */
  heartbeatTimeoutMs?: number;
  launch?: LaunchInfo;
  /**
   * GPUs (ranks) this process drives: N consecutive ranks, their NCCL calls issued as one
   * group, their JavaScript sides linked in-process (see docs/collectives.md). @default 1
   */
  gpusPerProcess?: number;
  log?: (line: string) => void;
}

/** At most this often rank 0 tells the coordinator how many samples a case has. */
const PROGRESS_EVERY_MS = 250;
/** How long closing the data links may take before the worker gives up on them. */
const CLOSE_BOUND_MS = 2000;

/** `::ffff:10.0.0.2` → `10.0.0.2`: peers reach an IPv4 socket at its IPv4 address. */
const plainAddress = (a: string): string => a.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

/** Runs a worker until the coordinator says done; returns the exit code. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const gpus = opts.gpusPerProcess ?? 1;
  // What this host can run, for the coordinator to plan from (it may have no GPU itself).
  const backends = { nccl: await probeNcclOnWorker(opts.launch?.localRank, gpus) };
  const coordHost = new URL(opts.coordinator).hostname.replace(/^\[|\]$/g, '');
  let conn: Awaited<ReturnType<typeof connectWithRetry>>;
  try {
    conn = await connectWithRetry(opts.coordinator, {
      timeoutMs: opts.connectTimeoutMs ?? 60_000,
      log,
      wsOptions: { perMessageDeflate: false, maxPayload: MAX_CONTROL_MESSAGE, handshakeTimeout: 30_000 },
    });
  } catch (err) {
    log(`gpubench worker: ${(err as Error).message}`);
    return ExitCode.fault;
  }
  const ws = conn.ws;
  // The address this host reached the coordinator from is one its peers can reach too
  // (a hostname may resolve to 127.0.1.1 on Debian-style hosts).
  const dataHost = opts.dataHost ?? (isLoopback(coordHost) && coordHost !== 'localhost' ? coordHost : plainAddress(conn.localAddress));
  // Loopback only where the coordinator was named by a loopback address: a worker that
  // reached a named coordinator over loopback (same host) must still be reachable from
  // other hosts, at the address the coordinator then gives it (reachableDataHosts).
  const loopbackOnly = isLoopback(coordHost) && isLoopback(dataHost);
  const bind = opts.dataBind ?? (loopbackOnly ? dataHost : dataHost.includes(':') ? '::' : '0.0.0.0');
  // One data server per rank this process runs.
  const servers: DataServer[] = [];
  try {
    for (let i = 0; i < gpus; i++) servers.push(await DataServer.listen(bind, opts.dataPorts));
  } catch (err) {
    log(`gpubench worker: ${(err as Error).message}`);
    await Promise.all(servers.map((sv) => sv.close().catch(() => undefined)));
    ws.terminate();
    return ExitCode.fault;
  }
  const server = servers[0]!;
  // This process's ranks, in order (one, or `gpus` with --gpus-per-process).
  let transports: Transport[] | undefined;
  // The NCCL communicators, brought up at the run's first nccl case and kept to its end.
  let nccl: NcclRank[] | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let rank = -1;
  let cases = 0;
  let silenceLimitMs = opts.heartbeatTimeoutMs ?? 60_000;
  let lastHeard = Date.now();

  return new Promise<number>((resolve) => {
    let settled = false;
    const finish = async (code: number, why?: string) => {
      if (settled) return;
      settled = true;
      if (why) log(`gpubench worker${rank >= 0 ? ` rank ${rank}` : ''}: ${why}`);
      if (heartbeat) clearInterval(heartbeat);
      clearInterval(watchdog);
      for (const r of nccl ?? []) r.dispose();
      // A peer behind a partition never answers: closing may not wait on it.
      const closing = Promise.all([
        ...(transports ?? []).map((t) => t.close().catch(() => undefined)),
        ...servers.map((sv) => sv.close().catch(() => undefined)),
      ]);
      await Promise.race([closing, new Promise((r) => setTimeout(r, CLOSE_BOUND_MS).unref())]);
      ws.terminate();
      resolve(code);
    };
    const send = (m: WorkerMessage) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
    };
    const heard = () => {
      lastHeard = Date.now();
    };
    const watchdog = setInterval(() => {
      const silent = Date.now() - lastHeard;
      if (silent > silenceLimitMs)
        void finish(ExitCode.fault, `lost the coordinator ${opts.coordinator}: nothing heard for ${silent} ms (limit ${silenceLimitMs} ms): a network partition, or the coordinator hung`);
    }, 250);
    ws.on('ping', heard);
    ws.on('error', (err) => void finish(ExitCode.fault, `coordinator ${opts.coordinator}: ${err.message}`));
    ws.on('close', (code, reason) => void finish(ExitCode.fault, `coordinator closed the connection (${code}${reason.length ? ` ${reason.toString()}` : ''})`));

    const node = fingerprint({ dataHost }) as unknown as Record<string, unknown>;
    delete node.nodes;
    send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      ...(opts.token !== undefined ? { token: opts.token } : {}),
      ...(opts.launch?.rank !== undefined ? { rankHint: opts.launch.rank } : {}),
      ...(opts.launch?.size !== undefined ? { worldSize: opts.launch.size } : {}),
      ...(opts.launch?.localRank !== undefined ? { localRank: opts.launch.localRank } : {}),
      ...(opts.launch ? { launcher: opts.launch.launcher } : {}),
      hostname: hostname(),
      pid: process.pid,
      dataHost,
      dataPort: server.port,
      node,
      ...(gpus > 1 ? { ranks: gpus, dataPorts: servers.map((sv) => sv.port) } : {}),
      backends,
    });

    // Cases are handled one at a time, in order: a case runs to its end before the next
    // is read. An abort is acted on at once: it may come while a case waits on a lost peer.
    let queue = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      heard();
      const r = parseFrame(CoordinatorMessage, data as Buffer, isBinary);
      if (!r.ok) return void finish(ExitCode.fault, `protocol error from the coordinator: ${r.error}`);
      const msg = r.msg;
      if (msg.type === 'abort') return void finish(msg.exitCode ?? ExitCode.fault, `run aborted: ${msg.reason}`);
      queue = queue.then(async () => {
        if (settled) return;
        try {
          if (msg.type === 'welcome') {
            rank = msg.rank;
            if (msg.heartbeatTimeoutMs !== undefined) silenceLimitMs = msg.heartbeatTimeoutMs;
            heartbeat = setInterval(() => send({ type: 'heartbeat' }), msg.heartbeatMs);
            transports = await connectRanks(msg.rank, msg.size, gpus, msg.runId, opts.token, servers, msg.peers);
            // The coordinator may have given this rank a reachable address for a loopback one.
            const announced = msg.peers.find((p) => p.rank === rank)?.host ?? dataHost;
            const mine = gpus === 1 ? `rank ${rank}` : `ranks ${rank}–${rank + gpus - 1}`;
            log(`gpubench worker ${mine}/${msg.size}${opts.launch ? ` (${opts.launch.launcher})` : ''}: data links up, listening at ${announced}:${servers.map((sv) => sv.port).join(',')}`);
            send({ type: 'ready' });
          } else if (msg.type === 'case') {
            const ts = transports;
            if (!ts) throw new Error('case before welcome');
            let said = 0;
            const onSample = rank === 0
              ? (samples: number) => {
                  const now = Date.now();
                  if (now - said < PROGRESS_EVERY_MS) return;
                  said = now;
                  send({ type: 'progress', index: msg.index, samples });
                }
              : undefined;
            // Every rank of this process runs the case; only rank 0 reports progress.
            const sample = (t: Transport) => (t.rank === 0 ? onSample : undefined);
            let results;
            if (msg.backend === 'nccl') {
              nccl ??= await openNccl(ts, opts.launch?.localRank, gpus);
              const ranks = nccl;
              results = await Promise.all(ts.map((t, i) => runNcclRankCase(ranks[i]!, t, msg.call as CollectiveCall, msg.seed, msg.measure, sample(t))));
            } else results = await Promise.all(ts.map((t) => runRankCase(t, msg.call as CollectiveCall, msg.seed, msg.measure, sample(t))));
            cases++;
            for (const result of results) send({ type: 'result', index: msg.index, result });
          } else if (msg.type === 'task') {
            // `gpubench fleet`: a node's matmul or its part in a round of pairs; errors are in the answer.
            if (!transports) throw new Error('task before welcome');
            if (transports.length > 1) throw new Error('gpubench fleet takes one rank per worker: start it without --gpus-per-process');
            send({ type: 'task-result', index: msg.index, result: await runFleetTask(transports[0]!, msg.task) });
          } else if (msg.type === 'done') {
            await finish(ExitCode.ok, `done: ${cases} case${cases === 1 ? '' : 's'}`);
          }
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          send({ type: 'fault', message });
          await finish(ExitCode.fault, message);
        }
      });
    });
  });
}

/**
 * This process's ranks' transports: one rank, its WebSocket links; several, each rank's
 * links to the ranks of other processes plus an in-process group between its own ranks.
 */
async function connectRanks(
  first: number, size: number, gpus: number, runId: string, token: string | undefined,
  servers: DataServer[], peers: { rank: number; host: string; port: number }[],
): Promise<Transport[]> {
  const local = (r: number) => r >= first && r < first + gpus;
  const group = gpus > 1 ? inProcessGroup(gpus) : undefined;
  return Promise.all(servers.map(async (server, i) => {
    const rank = first + i;
    server.expect(runId, size, token);
    const remote = await connectMesh({ rank, size, runId, token, server, peers: peers.filter((p) => p.rank === rank || !local(p.rank)) });
    return group ? new MixedTransport(rank, size, first, group[i]!, remote) : remote;
  }));
}

/** This process's NCCL ranks: one as before, or `gpus` brought up together in one NCCL group. */
async function openNccl(ts: Transport[], localRank: number | undefined, gpus: number): Promise<NcclRank[]> {
  // The same rule the worker's probe used (world-probe.ts), so it runs where it was planned.
  if (gpus === 1) return [await NcclRank.open(ts[0]!, ncclDevicesFor(localRank, 1)[0]!)];
  const s = await cudaStack();
  if (!s.ok) throw new Error(`NCCL on this rank: ${s.reason}`);
  const devices = ncclDevicesFor(localRank, gpus);
  const group = new NcclLocalGroup(s.stack.addon, ts[0]!.rank, gpus);
  const opened = await Promise.allSettled(ts.map((t, i) => NcclRank.open(t, devices[i]!, s.stack, group)));
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    for (const o of opened) if (o.status === 'fulfilled') o.value.dispose();
    throw failed.reason as Error;
  }
  return opened.map((o) => (o as PromiseFulfilledResult<NcclRank>).value);
}
