/**
 * Reaching the coordinator from a worker. Launchers start every task at once (Slurm
 * steps, mpirun, a Kubernetes Job), so a worker often comes up before the coordinator
 * listens, or before its DNS name resolves: connection errors are retried with
 * exponential backoff until a deadline, saying what the worker waits for.
 */
import { WebSocket, type ClientOptions } from 'ws';
import { RuntimeFault } from '../../harness/errors.js';

/** How to retry. */
export interface ConnectOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** First pause between attempts; doubles up to `maxDelayMs`. @default 100 */
  initialDelayMs?: number;
  /** @default 2000 */
  maxDelayMs?: number;
  /** How often to repeat "still waiting". @default 10000 */
  sayEveryMs?: number;
  log: (line: string) => void;
  wsOptions?: ClientOptions;
}

/** An open control connection and the local address it left from. */
export interface Connected {
  ws: WebSocket;
  localAddress: string;
  attempts: number;
}

/** One attempt: resolves when the WebSocket is open, rejects on any error before that. */
function openOnce(url: string, wsOptions: ClientOptions | undefined): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, wsOptions);
    let localAddress = '';
    const fail = (err: Error) => {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(err);
    };
    ws.once('upgrade', (res) => {
      localAddress = res.socket.localAddress ?? '';
    });
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode} instead of a WebSocket upgrade`)));
    ws.once('close', (code) => fail(new Error(`closed during the handshake (${code})`)));
    ws.once('open', () => {
      ws.removeAllListeners();
      resolve({ ws, localAddress, attempts: 0 });
    });
  });
}

const describe = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}${e.message.includes(e.code) ? '' : `: ${e.message}`}` : e.message;
};

/**
 * Connects to `url`, retrying every connection error until `timeoutMs` has passed.
 * @throws RuntimeFault naming the URL, the last error and the timeout
 */
export async function connectWithRetry(url: string, o: ConnectOptions): Promise<Connected> {
  const start = Date.now();
  const deadline = start + o.timeoutMs;
  let delay = o.initialDelayMs ?? 100;
  let attempts = 0;
  let saidAt = -Infinity;
  for (;;) {
    attempts++;
    try {
      const c = await openOnce(url, o.wsOptions);
      if (attempts > 1) o.log(`gpubench worker: reached the coordinator at ${url} after ${((Date.now() - start) / 1000).toFixed(1)} s`);
      return { ...c, attempts };
    } catch (err) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new RuntimeFault(`could not reach the coordinator at ${url} within ${o.timeoutMs} ms (${attempts} attempts; last: ${describe(err)}); is it running and reachable? (--connect-timeout)`);
      if (Date.now() - saidAt >= (o.sayEveryMs ?? 10_000)) {
        saidAt = Date.now();
        o.log(`gpubench worker: waiting for the coordinator at ${url} (${describe(err)}); retrying for up to ${Math.ceil(left / 1000)} s`);
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, left)));
      delay = Math.min(delay * 2, o.maxDelayMs ?? 2000);
    }
  }
}
