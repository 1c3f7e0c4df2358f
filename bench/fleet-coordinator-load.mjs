// The coordinator under load: N protocol-speaking WebSocket clients (stand-ins for the
// workers: hello, ready, heartbeats, and an answer to every task; no data links) driven from
// a few child processes, against the real Coordinator of dist/. Measures rendezvous and 100
// task barriers (a `pairs` task with no pairs: every rank answers at once), and the
// coordinator's memory per peer. Run after `npm run build`:
//   node bench/fleet-coordinator-load.mjs [N ...]          (default 64 256 1024)
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';

const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === '--clients') {
  // Child: open `count` clients against `url`, answer every task, exit when told or when closed.
  const { WebSocket } = await import('ws');
  const [url, first, count, n] = process.argv.slice(3).map((x, i) => (i === 0 ? x : Number(x)));
  let open = count;
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: Number(process.env.PROTO), rankHint: first + i, worldSize: n, hostname: `stand-in-${first + i}`, pid: process.pid, dataHost: '127.0.0.1', dataPort: 9, node: {} })));
    let hb;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'welcome') {
        ws.send(JSON.stringify({ type: 'ready' }));
        hb = setInterval(() => ws.send(JSON.stringify({ type: 'heartbeat' })), m.heartbeatMs);
      } else if (m.type === 'task') ws.send(JSON.stringify({ type: 'task-result', index: m.index, result: { kind: 'pairs' } }));
      else if (m.type === 'done' || m.type === 'abort') ws.close();
    });
    ws.on('close', () => {
      clearInterval(hb);
      if (--open === 0) process.exit(0);
    });
    ws.on('error', () => undefined);
  }
} else {
  const { Coordinator, PROTOCOL_VERSION } = await import('../dist/collectives/control/coordinator.js');
  const sizes = process.argv.slice(2).map(Number);
  console.log(`host ${hostname()}, node ${process.version}`);
  for (const n of sizes.length ? sizes : [64, 256, 1024]) {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const c = new Coordinator({ worldSize: n, heartbeatMs: 1000, heartbeatTimeoutMs: 60_000, tolerateLoss: true, log: () => undefined });
    const url = await c.listen();
    const procs = Math.min(4, n);
    const per = Math.ceil(n / procs);
    const t0 = performance.now();
    const kids = Array.from({ length: procs }, (_, p) => fork(SELF, ['--clients', url, String(p * per), String(Math.min(per, n - p * per)), String(n)], { env: { ...process.env, PROTO: String(PROTOCOL_VERSION) } }));
    await c.rendezvous();
    const tRdv = performance.now() - t0;
    const rssPeers = process.memoryUsage().rss;
    const t1 = performance.now();
    for (let i = 0; i < 100; i++) {
      const got = await c.runTask(i, () => ({ kind: 'pairs', pairs: [], bytes: 1, samples: 1, pingSamples: 1 }), 60_000);
      if (got.size !== n) throw new Error(`barrier ${i}: ${got.size} of ${n} answered`);
    }
    const tBar = performance.now() - t1;
    await c.close();
    await Promise.all(kids.map((k) => new Promise((r) => (k.exitCode !== null ? r() : k.once('exit', r)))));
    console.log(`N=${n}: rendezvous ${tRdv.toFixed(0)} ms, 100 barriers ${tBar.toFixed(0)} ms (${(tBar / 100).toFixed(1)} ms each), total ${(tRdv + tBar).toFixed(0)} ms; coordinator RSS +${((rssPeers - rss0) / n / 1024).toFixed(0)} KiB per peer`);
  }
}
