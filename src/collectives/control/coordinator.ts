/**
 * The coordinator: accepts `world size` workers (rendezvous), gives each a rank, the
 * run id and every peer's data address, then hands out cases one at a time and gathers
 * every rank's result (each case is a barrier). Heartbeats keep the run honest both ways:
 * a worker silent for `heartbeatTimeoutMs`, or whose link closes, is a lost peer — a
 * runtime fault (exit 3); the coordinator pings every worker each `heartbeatMs`, so a
 * worker cut off from it (a network partition sends no reset) notices the silence and
 * exits too. A worker whose launcher's world size differs from `worldSize` ends the
 * run as a usage error (exit 2). A connection that sends garbage is cut off with a
 * protocol error and recorded in `protocolErrors`; before it has a rank, the run goes on
 * without it.
 */
import { randomUUID } from 'node:crypto';
import { sameSecret } from './secret.js';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RuntimeFault, UsageError } from '../../harness/errors.js';
import type { MeasureOptions } from '../../harness/measure.js';
import type { CollectiveCall } from '../collective.js';
import type { RankCaseResult } from '../rank-case.js';
import { MAX_CONTROL_MESSAGE, PROTOCOL_VERSION, WorkerMessage, parseFrame, type CoordinatorMessage, type Hello, type RANK_BACKENDS } from './protocol.js';
import type { FleetTask, FleetTaskResult } from '../../fleet/protocol.js';
import type { WorldWorker } from '../world.js';

/** A backend whose cases run on every worker. */
export type RankBackend = (typeof RANK_BACKENDS)[number];

/** How to run a coordinator. */
export interface CoordinatorOptions {
  worldSize: number;
  /** Bind address. @default 127.0.0.1 */
  host?: string;
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** Shared secret every worker must present; required off loopback (the CLI enforces it). */
  token?: string;
  /** How long to wait for every worker. @default 120000 */
  rendezvousTimeoutMs?: number;
  /** Worker heartbeat period. @default 1000 */
  heartbeatMs?: number;
  /** A worker silent this long is lost. @default 60000 */
  heartbeatTimeoutMs?: number;
  /** A case not finished on every rank after this long fails the run, naming those ranks (nccl-tests' -T). @default 600000 */
  caseTimeoutMs?: number;
  /** Progress and protocol-error lines (stderr by default). */
  log?: (line: string) => void;
  /** Rank 0's samples so far in the current case (for a live progress line). */
  onProgress?: (index: number, samples: number) => void;
  /**
   * `gpubench fleet`: a rank lost after rendezvous (closed, silent, faulted, or past a
   * task's deadline) is recorded in `lost` and the run goes on with the others, instead
   * of ending it. @default false
   */
  tolerateLoss?: boolean;
}

/** A protocol error, as recorded in the results. */
export type ProtocolErrorRecord = {
  at: string;
  peer: string;
  rank?: number;
  error: string;
};

/** A worker that has joined. */
interface Member {
  ws: WebSocket;
  hello: Hello;
  /** Its first rank; it runs `ranks` consecutive ones (`--gpus-per-process`). */
  rank: number;
  ranks: number;
  lastSeen: number;
  ready: boolean;
}

/** Ranks a worker runs (hello's `ranks`, 1 when absent). */
const ranksOf = (h: Pick<Hello, 'ranks'>): number => h.ranks ?? 1;
/** "rank 3" or "ranks 2–3". */
const memberRanks = (m: Pick<Member, 'rank' | 'ranks'>): string => (m.ranks === 1 ? `rank ${m.rank}` : `ranks ${m.rank}–${m.rank + m.ranks - 1}`);

/**
 * The order of joined workers by rank: the ranks their launchers gave where every worker
 * has one (they must then be 0..n−1, each once), arrival order where none has.
 * @throws UsageError when some have launcher ranks and others not, or the ranks clash
 */
export function rankOrder(hellos: Pick<Hello, 'rankHint' | 'hostname' | 'pid' | 'launcher'>[], n: number): number[] {
  const arrival = hellos.map((_, i) => i);
  const hinted = hellos.filter((h) => h.rankHint !== undefined);
  if (hinted.length === 0) return arrival;
  const who = (h: (typeof hellos)[number]) => `${h.hostname} pid ${h.pid}${h.launcher ? ` (${h.launcher})` : ''}`;
  if (hinted.length < hellos.length)
    throw new UsageError(`some workers have ranks from a launcher and some do not (${hellos.filter((h) => h.rankHint === undefined).map(who).join(', ')}): start every worker the same way`, '--world-size');
  const byRank = new Map<number, number>();
  hellos.forEach((h, i) => {
    const r = h.rankHint!;
    if (r >= n) throw new UsageError(`${who(h)} has launcher rank ${r}, outside 0..${n - 1} for --world-size ${n}`, '--world-size');
    const other = byRank.get(r);
    if (other !== undefined) throw new UsageError(`${who(hellos[other]!)} and ${who(h)} both have launcher rank ${r}`, '--world-size');
    byRank.set(r, i);
  });
  return arrival.map((r) => byRank.get(r)!);
}

/**
 * A worker on the coordinator's own host may have reached it over loopback (its hostname
 * resolves to 127.0.1.1 on Debian-style hosts), and so announced a loopback data address
 * that workers on other hosts cannot reach. Such a worker listens on every interface (the
 * coordinator's host was not a loopback literal), so where other hosts take part its
 * address becomes the one they reached the coordinator at: an address of this same host
 * that they can reach. `--data-host` on such a worker sets its own, and is kept.
 */
export function reachableDataHosts(joined: { hello: Pick<Hello, 'hostname' | 'dataHost'>; via: string }[]): void {
  const remote = joined.find((j) => !isLoopback(j.via.replace(/^::ffff:/, '')) && j.via !== '');
  if (!remote) return;
  const here = remote.via.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  for (const j of joined)
    if (isLoopback(j.hello.dataHost) && isLoopback(j.via.replace(/^::ffff:/, '')) && joined.some((o) => o.hello.hostname !== j.hello.hostname))
      j.hello.dataHost = here;
}

/** How long `close()` waits for workers to complete the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 1000;

/** Whether `host` is a loopback address (binding there needs no token). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

export class Coordinator {
  readonly runId = randomUUID();
  readonly protocolErrors: ProtocolErrorRecord[] = [];
  /** Ranks lost after rendezvous and why (only with `tolerateLoss`; otherwise a loss ends the run). */
  readonly lost = new Map<number, string>();
  private readonly opts: Required<Omit<CoordinatorOptions, 'token' | 'log' | 'onProgress'>> & Pick<CoordinatorOptions, 'token' | 'onProgress'>;
  private readonly log: (line: string) => void;
  private wss?: WebSocketServer;
  private readonly joining: { ws: WebSocket; hello: Hello; via: string }[] = [];
  private members: Member[] = [];
  private fault?: RuntimeFault | UsageError;
  private wake?: () => void;
  private readonly results = new Map<number, RankCaseResult>();
  private readonly taskResults = new Map<number, FleetTaskResult>();
  private currentIndex = -1;
  private watchdog?: NodeJS.Timeout;
  private finished = false;

  constructor(opts: CoordinatorOptions) {
    this.opts = {
      host: '127.0.0.1',
      port: 0,
      rendezvousTimeoutMs: 120_000,
      heartbeatMs: 1000,
      heartbeatTimeoutMs: 60_000,
      caseTimeoutMs: 600_000,
      tolerateLoss: false,
      ...opts,
    };
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Starts listening; resolves with the ws:// URL workers connect to. */
  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ host: this.opts.host, port: this.opts.port, perMessageDeflate: false, maxPayload: MAX_CONTROL_MESSAGE });
      this.wss = wss;
      wss.once('error', reject);
      wss.once('listening', () => {
        const a = wss.address() as AddressInfo;
        const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve(`ws://${host}:${a.port}`);
      });
      wss.on('connection', (ws, req) => this.accept(ws, `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`, req.socket.localAddress ?? ''));
    });
  }

  /** The workers in rank order (after rendezvous): one hello per process. */
  get nodes(): Hello[] {
    return this.members.map((m) => m.hello);
  }

  /** The workers with the ranks each runs and what each probed (for planning the world's cases). */
  get workers(): WorldWorker[] {
    return this.members.map((m) => ({
      ranks: Array.from({ length: m.ranks }, (_, i) => m.rank + i),
      hostname: m.hello.hostname,
      ...(m.hello.backends ? { backends: m.hello.backends } : {}),
    }));
  }

  /** The host of every rank, in rank order. */
  get rankHosts(): string[] {
    return this.members.flatMap((m) => Array.from({ length: m.ranks }, () => m.hello.hostname));
  }

  /** The first rank of every worker process, in order (for `environment.nodes`). */
  get firstRanks(): number[] {
    return this.members.map((m) => m.rank);
  }

  /**
   * Whether some host runs more ranks than it has cores (from each worker's fingerprint):
   * then the ranks are CPU-bound and `auto` favours fewer messages over fewer rounds.
   */
  get cpuBound(): boolean {
    const hosts = new Map<string, { ranks: number; cores: number }>();
    for (const m of this.members) {
      const cores = Number(m.hello.node.cpuCount);
      const h = hosts.get(m.hello.hostname) ?? { ranks: 0, cores: Number.isFinite(cores) && cores > 0 ? cores : Infinity };
      h.ranks += m.ranks;
      hosts.set(m.hello.hostname, h);
    }
    return [...hosts.values()].some((h) => h.ranks > h.cores);
  }

  private send(ws: WebSocket, msg: CoordinatorMessage): void {
    ws.send(JSON.stringify(msg));
  }

  private protocolError(ws: WebSocket, peer: string, error: string, rank?: number): void {
    this.protocolErrors.push({ at: new Date().toISOString(), peer, error, ...(rank !== undefined ? { rank } : {}) });
    this.log(`gpubench coordinator: protocol error from ${rank !== undefined ? `rank ${rank} ` : ''}${peer}: ${error}; disconnected`);
    ws.close(1002, error.slice(0, 120));
    if (rank !== undefined) this.fail(new RuntimeFault(`rank ${rank} (${peer}) sent a bad message: ${error}`));
  }

  /** Ends the run with a fault from outside (e.g. a local worker process died). */
  reportFault(message: string): void {
    this.fail(new RuntimeFault(message));
  }

  /** A member is gone: with `tolerateLoss` noted (once) and dropped, otherwise the run's fault. */
  private lose(m: Member, why: string): void {
    if (!this.opts.tolerateLoss) return this.fail(new RuntimeFault(why));
    if (this.lost.has(m.rank)) return;
    this.lost.set(m.rank, why);
    this.log(`gpubench coordinator: ${why}; going on without it`);
    m.ws.terminate();
    this.wake?.();
  }

  private fail(err: RuntimeFault | UsageError): void {
    if (this.finished) return;
    this.fault ??= err;
    this.wake?.();
  }

  /** @param via this host's address the worker reached (the connection's local address) */
  private accept(ws: WebSocket, peer: string, via: string): void {
    let member: Member | undefined;
    // Pings let a worker tell a silent coordinator from a slow case (it answers with pongs by itself).
    const ping = setInterval(() => {
      if (ws.readyState === ws.OPEN) ws.ping();
    }, this.opts.heartbeatMs);
    ping.unref();
    ws.on('message', (data, isBinary) => {
      const r = parseFrame(WorkerMessage, data as Buffer, isBinary);
      if (!r.ok) return this.protocolError(ws, peer, r.error, member?.rank);
      const msg = r.msg;
      if (member) member.lastSeen = Date.now();
      if (msg.type === 'hello') {
        if (member || this.joining.some((j) => j.ws === ws)) return this.protocolError(ws, peer, 'hello sent twice', member?.rank);
        if (this.opts.token !== undefined && !sameSecret(msg.token, this.opts.token)) return this.protocolError(ws, peer, 'wrong or missing token');
        const ranks = ranksOf(msg);
        if (msg.worldSize !== undefined && msg.worldSize * ranks !== this.opts.worldSize) {
          const of = ranks === 1 ? `${msg.worldSize} ranks` : `${msg.worldSize} processes × ${ranks} GPUs = ${msg.worldSize * ranks} ranks`;
          const why = `${msg.hostname} pid ${msg.pid} was started by ${msg.launcher ?? 'its launcher'} for a world of ${of}, but the coordinator's --world-size is ${this.opts.worldSize}`;
          this.send(ws, { type: 'abort', reason: why, exitCode: 2 });
          ws.close(1008, 'world size mismatch');
          this.fail(new UsageError(why, '--world-size'));
          return;
        }
        if (ranks > 1 && this.opts.tolerateLoss) {
          const why = `${msg.hostname} pid ${msg.pid} runs ${ranks} ranks (--gpus-per-process ${ranks}); gpubench fleet takes one rank per worker`;
          this.send(ws, { type: 'abort', reason: why, exitCode: 2 });
          ws.close(1008, 'one rank per worker');
          this.fail(new UsageError(why, '--gpus-per-process'));
          return;
        }
        const joined = this.joining.reduce((n, j) => n + ranksOf(j.hello), 0);
        if (this.members.length > 0 || joined >= this.opts.worldSize) {
          const why = `world already full: --world-size is ${this.opts.worldSize}`;
          this.protocolErrors.push({ at: new Date().toISOString(), peer, error: 'world already full' });
          this.log(`gpubench coordinator: refused ${msg.hostname} pid ${msg.pid}: ${why}`);
          this.send(ws, { type: 'abort', reason: why, exitCode: 2 });
          ws.close(1008, 'world already full');
          return;
        }
        if (joined + ranks > this.opts.worldSize) {
          // The ranks can no longer add up to the world: a configuration error, not a spare worker.
          const who = [...this.joining.map((j) => j.hello), msg].map((h) => `${h.hostname} pid ${h.pid}: ${ranksOf(h)}`).join(', ');
          const why = `rank count mismatch: the workers run ${joined + ranks} ranks (${who}) but --world-size is ${this.opts.worldSize}; the world size counts GPUs (ranks): workers × --gpus-per-process`;
          this.send(ws, { type: 'abort', reason: why, exitCode: 2 });
          ws.close(1008, 'rank count mismatch');
          this.fail(new UsageError(why, '--world-size'));
          return;
        }
        this.joining.push({ ws, hello: msg, via });
        this.log(`gpubench coordinator: ${msg.hostname} pid ${msg.pid} joined${ranks > 1 ? ` with ${ranks} ranks` : ''} (${joined + ranks}/${this.opts.worldSize})`);
        this.wake?.();
        return;
      }
      member ??= this.members.find((m) => m.ws === ws);
      if (!member) return this.protocolError(ws, peer, `"${msg.type}" before welcome`);
      member.lastSeen = Date.now();
      if (msg.type === 'ready') member.ready = true;
      else if (msg.type === 'progress') {
        if (msg.index === this.currentIndex && member.rank === 0) this.opts.onProgress?.(msg.index, msg.samples);
      }
      else if (msg.type === 'task-result') {
        // A late answer from a rank already given up on, or to an earlier task, is dropped.
        if (msg.index === this.currentIndex && !this.lost.has(member.rank)) this.taskResults.set(member.rank, msg.result);
      }
      else if (msg.type === 'result') {
        if (msg.index !== this.currentIndex || msg.result.rank < member.rank || msg.result.rank >= member.rank + member.ranks) return this.protocolError(ws, peer, `result for case ${msg.index} rank ${msg.result.rank} unexpected`, member.rank);
        this.results.set(msg.result.rank, msg.result as RankCaseResult);
      } else if (msg.type === 'fault') this.lose(member, `${memberRanks(member)} (${member.hello.hostname}): ${msg.message}`);
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      clearInterval(ping);
      const j = this.joining.findIndex((x) => x.ws === ws);
      if (j >= 0 && this.members.length === 0) this.joining.splice(j, 1);
      const m = member ?? this.members.find((x) => x.ws === ws);
      if (m && !this.finished) this.lose(m, `lost ${memberRanks(m)} (${m.hello.hostname} pid ${m.hello.pid}): connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
    });
    // ws reports frames over maxPayload, bad UTF-8 and framing errors here, then closes (1009/1002/1007).
    ws.on('error', (err: Error & { code?: string }) => {
      const error = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'message too large' : err.message;
      this.protocolErrors.push({ at: new Date().toISOString(), peer, error, ...(member ? { rank: member.rank } : {}) });
      this.log(`gpubench coordinator: protocol error from ${peer}: ${error}; disconnected`);
    });
  }

  /** Waits until `until()` holds, a fault happens, or the deadline passes. */
  private async waitFor(until: () => boolean, deadlineMs: number, what: string): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (!until()) {
      if (this.fault) throw this.fault;
      const left = deadline - Date.now();
      if (left <= 0) throw new RuntimeFault(`timed out after ${deadlineMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (this.fault) throw this.fault;
  }

  /**
   * Rendezvous: waits for every worker, assigns ranks (the launchers' ranks, else arrival
   * order; see `rankOrder`), sends each its welcome and waits until every worker has its
   * data links up.
   */
  async rendezvous(): Promise<void> {
    const n = this.opts.worldSize;
    const joined = () => this.joining.reduce((k, j) => k + ranksOf(j.hello), 0);
    await this.waitFor(() => joined() >= n, this.opts.rendezvousTimeoutMs, `${n} workers (have ${this.joining.length}${joined() !== this.joining.length ? `, with ${joined()} ranks` : ''})`);
    // Launcher ranks count processes; a process of several GPUs takes that many consecutive ranks.
    const order = rankOrder(this.joining.map((j) => j.hello), this.joining.length).map((i) => this.joining[i]!);
    let next = 0;
    this.members = order.map((j) => {
      const m = { ws: j.ws, hello: j.hello, rank: next, ranks: ranksOf(j.hello), lastSeen: Date.now(), ready: false };
      next += m.ranks;
      return m;
    });
    reachableDataHosts(order);
    const peers = this.members.flatMap((m) =>
      Array.from({ length: m.ranks }, (_, i) => ({ rank: m.rank + i, host: m.hello.dataHost, port: i === 0 ? m.hello.dataPort : m.hello.dataPorts?.[i] ?? m.hello.dataPort })),
    );
    for (const m of this.members)
      this.send(m.ws, { type: 'welcome', runId: this.runId, rank: m.rank, size: n, peers, heartbeatMs: this.opts.heartbeatMs, heartbeatTimeoutMs: this.opts.heartbeatTimeoutMs });
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const m of this.members)
        if (now - m.lastSeen > this.opts.heartbeatTimeoutMs && !this.fault && !this.lost.has(m.rank)) {
          this.lose(m, `lost ${memberRanks(m)} (${m.hello.hostname} pid ${m.hello.pid}, data at ${m.hello.dataHost}): no heartbeat for ${this.opts.heartbeatTimeoutMs} ms`);
          // A partitioned peer never answers a close handshake: drop it now.
          m.ws.terminate();
        }
    }, Math.min(1000, this.opts.heartbeatTimeoutMs / 4));
    this.watchdog.unref();
    await this.waitFor(() => this.members.every((m) => m.ready), this.opts.rendezvousTimeoutMs, 'every worker to connect its data links');
    this.log(`gpubench coordinator: run ${this.runId}: ${n} ranks${this.members.length !== n ? ` in ${this.members.length} processes` : ''} on ${new Set(this.members.map((m) => m.hello.hostname)).size} host(s) ready`);
  }

  /** Runs one case on every rank and returns the ranks' results, in rank order. */
  async runCase(index: number, id: string, call: CollectiveCall, seed: number, measure: MeasureOptions, backend: RankBackend = 'ws'): Promise<RankCaseResult[]> {
    if (this.fault) throw this.fault;
    this.currentIndex = index;
    this.results.clear();
    for (const m of this.members) this.send(m.ws, { type: 'case', index, id, ...(backend !== 'ws' ? { backend } : {}), call, seed, measure });
    try {
      await this.waitFor(() => this.results.size === this.opts.worldSize, this.opts.caseTimeoutMs, `every rank to finish case ${id}`);
    } catch (err) {
      if (this.fault) throw err;
      // A hung collective: say which ranks never finished, and which of those have gone
      // silent (stuck or stopped) rather than waiting on a peer (NCCL itself cannot tell).
      const who = (m: Member) => `${m.ranks === 1 ? m.rank : memberRanks(m).slice(6)} (${m.hello.hostname} pid ${m.hello.pid})`;
      const unfinished = this.members.filter((m) => Array.from({ length: m.ranks }, (_, i) => m.rank + i).some((r) => !this.results.has(r)));
      const now = Date.now();
      const silent = unfinished.filter((m) => now - m.lastSeen > 1.5 * this.opts.heartbeatMs + 250);
      const blame = silent.length > 0 && silent.length < unfinished.length
        ? `; ${silent.map((m) => `rank ${who(m)} has sent nothing for ${now - m.lastSeen} ms`).join(', ')} (hung or stopped), the others are alive and waiting`
        : '';
      throw new RuntimeFault(`case ${id} did not finish within ${this.opts.caseTimeoutMs} ms (-T/--timeout) on rank${unfinished.length === 1 ? '' : 's'} ${unfinished.map(who).join(', ')}${blame}; the run stops: those ranks may be stuck inside the collective`);
    }
    return Array.from({ length: this.opts.worldSize }, (_, r) => this.results.get(r)!);
  }

  /**
   * Sends a task to the ranks `taskFor` gives one (and that are not lost) and gathers their
   * answers. A rank that has not answered within `timeoutMs` is lost (`tolerateLoss`: named,
   * cut off, and the others go on) and has no entry in the map.
   */
  async runTask(index: number, taskFor: (rank: number) => FleetTask | undefined, timeoutMs: number): Promise<Map<number, FleetTaskResult>> {
    if (this.fault) throw this.fault;
    this.currentIndex = index;
    this.taskResults.clear();
    const targets = this.members.filter((m) => !this.lost.has(m.rank)).flatMap((m) => {
      const task = taskFor(m.rank);
      return task ? [{ m, task }] : [];
    });
    // One frame per distinct task (a round's pairs task is the same object for every rank): at
    // 1,024 ranks, serialising it once per rank was most of a barrier's time.
    const frames = new Map<FleetTask, string>();
    for (const { m, task } of targets) {
      let frame = frames.get(task);
      if (frame === undefined) frames.set(task, (frame = JSON.stringify({ type: 'task', index, task } satisfies CoordinatorMessage)));
      m.ws.send(frame);
    }
    const pending = () => targets.filter(({ m }) => !this.taskResults.has(m.rank) && !this.lost.has(m.rank));
    // Checked on every answer: counting is O(1) while nobody is lost (the usual case).
    const finished = () => (this.lost.size === 0 ? this.taskResults.size >= targets.length : pending().length === 0);
    try {
      await this.waitFor(finished, timeoutMs, `task ${index}`);
    } catch (err) {
      if (this.fault) throw err;
      for (const { m } of pending()) this.lose(m, `rank ${m.rank} (${m.hello.hostname} pid ${m.hello.pid}) did not finish ${targets.find((t) => t.m === m)!.task.kind} task ${index} within ${timeoutMs} ms: hung`);
    }
    return new Map(this.taskResults);
  }

  /** Tells every worker the run is over (or aborted) and stops listening. */
  async close(abortReason?: string, exitCode?: number): Promise<void> {
    this.finished = true;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const m of this.members) {
      if (m.ws.readyState === m.ws.OPEN) this.send(m.ws, abortReason ? { type: 'abort', reason: abortReason, ...(exitCode !== undefined ? { exitCode } : {}) } : { type: 'done' });
    }
    for (const j of this.joining) {
      if (this.members.some((m) => m.ws === j.ws)) continue;
      // Workers that joined a world that never formed learn why, not just that it closed.
      if (abortReason && j.ws.readyState === j.ws.OPEN) this.send(j.ws, { type: 'abort', reason: abortReason, ...(exitCode !== undefined ? { exitCode } : {}) });
      j.ws.close(1001, 'run over');
    }
    // Give workers a moment to read their last message before the server goes away.
    await new Promise((r) => setTimeout(r, 50));
    const clients = [...(this.wss?.clients ?? [])];
    for (const c of clients) c.close(1000);
    // A worker behind a partition never completes the close handshake (ws would wait 30 s): cut it.
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (clients.some((c) => c.readyState !== c.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of clients) if (c.readyState !== c.CLOSED) c.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }
}

export { PROTOCOL_VERSION };
