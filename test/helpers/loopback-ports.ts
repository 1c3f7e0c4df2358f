/** TCP ports on 127.0.0.1 for tests: held, or checked free, with bounded retries. */
import { createServer, type Server, type Socket } from 'node:net';

const sockets = new WeakMap<Server, Set<Socket>>();

/**
 * Listens on 127.0.0.1:`port` (0: any); resolves with the server, or undefined if taken.
 * Without `onConnection`, connections are accepted and left open, as a server that speaks
 * another protocol would; `closeServer` ends them.
 */
export function listenLoopback(port: number, onConnection?: (socket: Socket) => void): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const open = new Set<Socket>();
    const server = createServer((socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
      onConnection?.(socket);
    });
    sockets.set(server, open);
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The port a listening server holds. */
export const portOf = (server: Server): number => (server.address() as { port: number }).port;

/** Closes a server and waits for it. */
export function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  for (const s of sockets.get(server) ?? []) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Whether 127.0.0.1:`port` can be bound right now. */
export async function isFree(port: number): Promise<boolean> {
  if (port <= 0 || port > 65535) return false;
  const s = await listenLoopback(port);
  await closeServer(s);
  return s !== undefined;
}

/**
 * Holds a port P on 127.0.0.1 whose next port P + 1 is free (torchrun's store on P, the
 * coordinator on P + 1); up to 50 tries.
 */
export async function holdPortWithFreeNext(onConnection?: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  for (let i = 0; i < 50; i++) {
    const server = await listenLoopback(0, onConnection);
    if (!server) continue;
    const port = portOf(server);
    if (await isFree(port + 1)) return { server, port };
    await closeServer(server);
  }
  throw new Error('no port P with P + 1 free on 127.0.0.1 in 50 tries');
}

/** `width` consecutive free ports on 127.0.0.1, as `first-last`; up to 50 tries. */
export async function freePortRange(width: number): Promise<{ first: number; last: number }> {
  for (let i = 0; i < 50; i++) {
    // Below Linux's ephemeral range (32768+), where outgoing connections take their ports.
    const first = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let p = first; p < first + width && ok; p++) ok = await isFree(p);
    if (ok) return { first, last: first + width - 1 };
  }
  throw new Error(`no ${width} consecutive free ports on 127.0.0.1 in 50 tries`);
}
