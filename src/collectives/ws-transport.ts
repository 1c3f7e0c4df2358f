/**
 * The WebSocket transport between processes and hosts. Every rank runs a data server;
 * for each ordered pair (i → j), rank j connects to rank i's server, so bulk data always
 * travels server → client: servers send unmasked frames (no per-byte XOR, no copy), and
 * clients send only their 1-frame hello. Binary frames, one per message, no compression,
 * TCP_NODELAY. `ws` performs the server's upgrade and reads the client's frames; data
 * frames are written straight onto the socket (`SendLink`), and the client end is our
 * receive-only link (`ws-receiver.ts`), which reads each message into the buffer it is
 * bound for. A send resolves when the kernel has the bytes, which is how TCP
 * backpressure reaches the algorithms.
 */
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server as HttpServer } from 'node:http';
import { z } from 'zod';
import { PeerLostError, type Transport } from './transport.js';
import { ReceiveLink } from './ws-receiver.js';
import { sameSecret } from './control/secret.js';

/** Largest data message a rank accepts from a peer (a whole buffer for recursive doubling). */
export const MAX_DATA_MESSAGE = 1024 * 1024 * 1024;
/** The only thing a client sends on a data link: who it is. */
const MAX_HELLO = 4096;

const DataHello = z.strictObject({ type: z.literal('data-hello'), runId: z.string().max(100), token: z.string().max(1000).optional(), rank: z.number().int().min(0) });

/** Where a rank's data server listens, as the coordinator tells every rank. */
export interface PeerAddress {
  rank: number;
  host: string;
  port: number;
}

const toBytes = (data: RawData): Uint8Array => {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
};

/** Payloads up to this size go out as one write of header and payload together. */
const COALESCE_BYTES = 16 * 1024;

/**
 * The sending end of a data link: `ws` made the upgrade and reads the client's frames;
 * data frames are written here, straight onto the socket (unmasked, as a server sends).
 * A small message goes out as one buffer, a large one as header + the caller's bytes in
 * one corked write (no copy). Each frame is written in one synchronous block, so nothing
 * `ws` writes (a pong, a close) can land inside it.
 */
export class SendLink {
  constructor(
    readonly ws: WebSocket,
    private readonly socket: Socket,
  ) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN && !this.socket.destroyed;
  }

  /** Writes one binary message; `done` runs once the kernel has the bytes (or with the error). */
  write(payload: Uint8Array, done: (err?: Error | null) => void): void {
    const n = payload.byteLength;
    const at = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const small = n <= COALESCE_BYTES;
    const head = Buffer.allocUnsafe(small ? at + n : at);
    head[0] = 0x82; // FIN, binary
    if (n < 126) head[1] = n;
    else if (n < 65536) {
      head[1] = 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 127;
      // 64-bit length as two 32-bit halves: no BigInt per message.
      head.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
      head.writeUInt32BE(n >>> 0, 6);
    }
    if (small) {
      head.set(payload, at);
      this.socket.write(head, done);
      return;
    }
    this.socket.cork();
    this.socket.write(head);
    this.socket.write(payload, done);
    this.socket.uncork();
  }
}

/** A rank's data server, started before rendezvous so its port can be announced. */
export class DataServer {
  private readonly wss: WebSocketServer;
  /** Accepted, authenticated links by the client's rank: this rank sends to that rank on them. */
  private readonly outgoing = new Map<number, SendLink>();
  private readonly waiting = new Set<() => void>();
  private auth?: { runId: string; token?: string; size: number };
  /** Hellos that came before this rank's own welcome (expect()): judged when it comes. */
  private readonly early: { ws: WebSocket; socket: Socket; hello: z.infer<typeof DataHello> }[] = [];
  /** Why links were refused (wrong run, token, rank): reported, never fatal. */
  readonly refused: string[] = [];

  private constructor(
    private readonly http: HttpServer,
    wss: WebSocketServer,
  ) {
    this.wss = wss;
    // The upgrade is `ws`'s; the socket is kept so data frames can be written onto it.
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket as Socket)));
  }

  /**
   * Listens on host: on any free port, or on the first free port of `ports` (inclusive
   * range), so firewalls and NetworkPolicies can open a fixed range.
   */
  static async listen(host: string, ports?: readonly [number, number]): Promise<DataServer> {
    const candidates = ports ? Array.from({ length: ports[1] - ports[0] + 1 }, (_, i) => ports[0] + i) : [0];
    let last: Error | undefined;
    for (const port of candidates) {
      try {
        return await DataServer.listenOn(host, port);
      } catch (err) {
        last = err as Error;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw new PeerLostError(ports ? `data server: no free port in ${ports[0]}-${ports[1]} on ${host} (${last?.message})` : `data server on ${host}: ${last?.message}`);
  }

  private static listenOn(host: string, port: number): Promise<DataServer> {
    return new Promise((resolve, reject) => {
      const http = createServer((_req, res) => res.writeHead(426).end('a gpubench data link: WebSocket only\n'));
      const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_HELLO, clientTracking: true });
      http.once('error', reject);
      http.listen(port, host, () => resolve(new DataServer(http, wss)));
    });
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /**
   * Accepts links for this run from here on. A peer welcomed before this rank may have
   * said hello already: those hellos were held, and are judged now.
   */
  expect(runId: string, size: number, token?: string): void {
    this.auth = { runId, size, token };
    for (const early of this.early.splice(0)) this.admit(early.ws, early.socket, early.hello);
  }

  private accept(ws: WebSocket, socket: Socket): void {
    ws.once('message', (data, isBinary) => {
      let hello: z.infer<typeof DataHello> | undefined;
      try {
        if (!isBinary) hello = DataHello.parse(JSON.parse(toBytes(data).toString()));
      } catch {
        /* refused below */
      }
      // Anything further from a client is a protocol error: clients only receive.
      ws.on('message', () => ws.close(1002, 'data clients must not send'));
      if (hello && !this.auth) {
        // This rank has not been welcomed yet; a faster peer has: hold the hello until expect().
        this.early.push({ ws, socket, hello });
        ws.once('close', () => {
          const i = this.early.findIndex((e) => e.ws === ws);
          if (i >= 0) this.early.splice(i, 1);
        });
        return;
      }
      this.admit(ws, socket, hello);
    });
  }

  /** Registers a link whose hello names this run, its token and a rank not yet linked; refuses any other. */
  private admit(ws: WebSocket, socket: Socket, hello: z.infer<typeof DataHello> | undefined): void {
    const a = this.auth;
    const why = !hello ? 'not a data hello'
      : !a || hello.runId !== a.runId ? 'wrong run id'
      : a.token !== undefined && !sameSecret(hello.token, a.token) ? 'wrong token'
      : hello.rank >= a.size || this.outgoing.has(hello.rank) ? `bad rank ${hello.rank}`
      : undefined;
    if (why || !hello) {
      this.refused.push(why ?? 'refused');
      ws.close(1008, why);
      return;
    }
    this.outgoing.set(hello.rank, new SendLink(ws, socket));
    for (const w of this.waiting) w();
  }

  /** Resolves once every peer has connected in; rejects after timeoutMs. */
  waitForPeers(peers: number[], timeoutMs: number): Promise<Map<number, SendLink>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (peers.every((p) => this.outgoing.has(p))) {
          this.waiting.delete(check);
          clearTimeout(timer);
          resolve(this.outgoing);
        }
      };
      const timer = setTimeout(() => {
        this.waiting.delete(check);
        reject(new PeerLostError(`data links: ranks ${peers.filter((p) => !this.outgoing.has(p)).join(', ')} did not connect within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.add(check);
      check();
    });
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    // Connections that never upgraded (a stray HTTP client) would hold the server open.
    this.http.closeAllConnections();
    return new Promise((resolve) => this.http.close(() => resolve()));
  }
}

class WsRank implements Transport {
  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly incoming: Map<number, ReceiveLink>,
    private readonly outgoing: Map<number, SendLink>,
    private readonly server: DataServer,
  ) {}

  send(peer: number, bytes: Uint8Array): Promise<void> {
    const link = this.outgoing.get(peer);
    if (!link?.open) return Promise.reject(new PeerLostError(`no open data link to rank ${peer}`));
    return new Promise((resolve, reject) => {
      link.write(bytes, (err) => (err ? reject(new PeerLostError(`send to rank ${peer}: ${err.message}`)) : resolve()));
    });
  }

  private link(peer: number): ReceiveLink {
    const link = this.incoming.get(peer);
    if (!link) throw new PeerLostError(`no data link from rank ${peer}`);
    return link;
  }

  recv(peer: number): Promise<Uint8Array> {
    try {
      return this.link(peer).recv();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  recvInto(peer: number, dst: Uint8Array): Promise<Uint8Array> {
    try {
      return this.link(peer).recvInto(dst);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  recvKept(peer: number): Promise<Uint8Array> {
    try {
      return this.link(peer).recvKept();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  release(peer: number, bytes: Uint8Array): void {
    this.incoming.get(peer)?.release(bytes);
  }

  async close(): Promise<void> {
    for (const link of this.incoming.values()) link.close();
    await this.server.close();
  }
}

/**
 * Opens this rank's links to every peer: a client link to each peer's server (data in)
 * and waits for every peer's client link to this server (data out).
 */
export async function connectMesh(opts: {
  rank: number;
  size: number;
  runId: string;
  token?: string;
  server: DataServer;
  peers: PeerAddress[];
  timeoutMs?: number;
}): Promise<Transport> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const others = opts.peers.filter((p) => p.rank !== opts.rank);
  const hello = JSON.stringify({ type: 'data-hello', runId: opts.runId, token: opts.token, rank: opts.rank });
  const open = (p: PeerAddress) =>
    ReceiveLink.open({ host: p.host, port: p.port, hello, maxPayload: MAX_DATA_MESSAGE, label: `data link from rank ${p.rank} (${p.host}:${p.port})`, timeoutMs });
  const [links, outgoing] = await Promise.all([
    Promise.allSettled(others.map(open)),
    opts.server.waitForPeers(others.map((p) => p.rank), timeoutMs).catch((err: unknown) => err as Error),
  ]);
  const incoming = new Map<number, ReceiveLink>();
  others.forEach((p, i) => {
    const l = links[i]!;
    if (l.status === 'fulfilled') incoming.set(p.rank, l.value);
  });
  const failed = links.find((l) => l.status === 'rejected');
  if (failed || outgoing instanceof Error) {
    // Nothing half-open is left behind.
    for (const l of incoming.values()) l.close();
    throw failed ? (failed.reason as Error) : (outgoing as Error);
  }
  return new WsRank(opts.rank, opts.size, incoming, outgoing, opts.server);
}
