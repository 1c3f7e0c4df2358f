/**
 * A worker: one rank. Starts its data server, says hello to the coordinator, builds
 * its data links to every peer when welcomed, then runs each case it is sent and
 * reports its rank's result. Heartbeats go out every `heartbeatMs` meanwhile. Resolves
 * with the process exit code: 0 after `done`, 3 on any fault (coordinator or a peer
 * lost, an abort).
 */
import { hostname } from 'node:os';
import { WebSocket } from 'ws';
import { ExitCode } from '../../harness/errors.js';
import { fingerprint } from '../../harness/environment.js';
import type { CollectiveCall } from '../collective.js';
import { runRankCase } from '../rank-case.js';
import type { Transport } from '../transport.js';
import { connectMesh, DataServer } from '../ws-transport.js';
import { CoordinatorMessage, MAX_CONTROL_MESSAGE, parseFrame, PROTOCOL_VERSION, type WorkerMessage } from './protocol.js';
import type { LaunchInfo } from './launchers.js';

/** How to run a worker. */
export interface WorkerOptions {
  /** ws://host:port of the coordinator. */
  coordinator: string;
  token?: string;
  /** Address this worker's data server binds and announces. @default the coordinator's host when loopback, else this host's name */
  dataHost?: string;
  /** Bind address of the data server when it differs from the announced one (e.g. 0.0.0.0). */
  dataBind?: string;
  launch?: LaunchInfo;
  log?: (line: string) => void;
}

/** Runs a worker until the coordinator says done; returns the exit code. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const coordHost = new URL(opts.coordinator).hostname.replace(/^\[|\]$/g, '');
  const loopback = coordHost === 'localhost' || coordHost === '::1' || /^127\./.test(coordHost);
  const dataHost = opts.dataHost ?? (loopback ? (coordHost === 'localhost' ? '127.0.0.1' : coordHost) : hostname());
  const server = await DataServer.listen(opts.dataBind ?? (loopback ? dataHost : '0.0.0.0'));
  let transport: Transport | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let rank = -1;

  return new Promise<number>((resolve) => {
    let settled = false;
    const finish = async (code: number, why?: string) => {
      if (settled) return;
      settled = true;
      if (why) log(`gpubench worker${rank >= 0 ? ` rank ${rank}` : ''}: ${why}`);
      if (heartbeat) clearInterval(heartbeat);
      await transport?.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      ws.terminate();
      resolve(code);
    };
    const ws = new WebSocket(opts.coordinator, { perMessageDeflate: false, maxPayload: MAX_CONTROL_MESSAGE, handshakeTimeout: 30_000 });
    const send = (m: WorkerMessage) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
    };
    ws.on('open', () => {
      const node = fingerprint() as unknown as Record<string, unknown>;
      delete node.nodes;
      send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.launch?.rank !== undefined ? { rankHint: opts.launch.rank } : {}),
        ...(opts.launch?.localRank !== undefined ? { localRank: opts.launch.localRank } : {}),
        ...(opts.launch ? { launcher: opts.launch.launcher } : {}),
        hostname: hostname(),
        pid: process.pid,
        dataHost,
        dataPort: server.port,
        node,
      });
    });
    ws.on('error', (err) => void finish(ExitCode.fault, `coordinator ${opts.coordinator}: ${err.message}`));
    ws.on('close', (code, reason) => void finish(ExitCode.fault, `coordinator closed the connection (${code}${reason.length ? ` ${reason.toString()}` : ''})`));

    // Messages are handled one at a time, in order: a case runs to its end before the next is read.
    let queue = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      queue = queue.then(async () => {
        if (settled) return;
        const r = parseFrame(CoordinatorMessage, data as Buffer, isBinary);
        if (!r.ok) return finish(ExitCode.fault, `protocol error from the coordinator: ${r.error}`);
        const msg = r.msg;
        try {
          if (msg.type === 'welcome') {
            rank = msg.rank;
            heartbeat = setInterval(() => send({ type: 'heartbeat' }), msg.heartbeatMs);
            server.expect(msg.runId, msg.size, opts.token);
            transport = await connectMesh({ rank: msg.rank, size: msg.size, runId: msg.runId, token: opts.token, server, peers: msg.peers });
            send({ type: 'ready' });
          } else if (msg.type === 'case') {
            if (!transport) throw new Error('case before welcome');
            const result = await runRankCase(transport, msg.call as CollectiveCall, msg.seed, msg.measure);
            send({ type: 'result', index: msg.index, result });
          } else if (msg.type === 'done') {
            await finish(ExitCode.ok);
          } else {
            await finish(ExitCode.fault, `run aborted: ${msg.reason}`);
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
