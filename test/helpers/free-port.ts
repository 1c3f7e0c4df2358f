/** A TCP port free on 127.0.0.1 right now (bound to 0 and released; the caller binds it next). */
import { createServer } from 'node:net';

/** Resolves with a port the kernel had free on loopback. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
