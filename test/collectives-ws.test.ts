/**
 * The WebSocket transport in one process (real sockets on 127.0.0.1): every collective
 * over it against the reference, the server→client direction of data, and a data link
 * that refuses a stranger. Also the launcher environments.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectMesh, DataServer } from '../src/collectives/ws-transport.js';
import type { Transport } from '../src/collectives/transport.js';
import { allocateBuffers, runCollective, type CollectiveCall } from '../src/collectives/collective.js';
import { checkedBytes, checkOutput, prepareRank } from '../src/collectives/reference.js';
import { freshSeed } from '../src/harness/random.js';

let open: Transport[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function wsGroup(n: number): Promise<{ ts: Transport[]; servers: DataServer[] }> {
  const servers = await Promise.all(Array.from({ length: n }, () => DataServer.listen('127.0.0.1')));
  const runId = `test-${freshSeed()}`;
  for (const s of servers) s.expect(runId, n, 'secret');
  const peers = servers.map((s, rank) => ({ rank, host: '127.0.0.1', port: s.port }));
  const ts = await Promise.all(servers.map((server, rank) => connectMesh({ rank, size: n, runId, token: 'secret', server, peers, timeoutMs: 10_000 })));
  open = ts;
  return { ts, servers };
}

describe('WebSocket transport on loopback', () => {
  it('runs every collective across 3 ranks, checked on every rank', async () => {
    const { ts } = await wsGroup(3);
    const calls: CollectiveCall[] = [
      { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: 200_003, inPlace: false, chunkBytes: 32 * 1024 },
      { kind: 'allreduce', dtype: 'bf16', op: 'avg', algorithm: 'recursive-doubling', count: 999, inPlace: true },
      { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'halving-doubling', count: 200_003, inPlace: false, chunkBytes: 32 * 1024 },
      { kind: 'allreduce', dtype: 'f16', op: 'min', algorithm: 'halving-doubling', count: 4099, inPlace: true, chunkBytes: 1024 },
      { kind: 'allreduce', dtype: 'i32', op: 'prod', algorithm: 'auto', count: 5, inPlace: false },
      { kind: 'allgather', dtype: 'f16', op: 'sum', algorithm: 'ring', count: 3 * 4097, inPlace: true, chunkBytes: 1024 },
      { kind: 'reducescatter', dtype: 'f32', op: 'max', algorithm: 'ring', count: 3 * 1001, inPlace: false, chunkBytes: 512 },
      { kind: 'broadcast', dtype: 'i32', op: 'sum', algorithm: 'chain', count: 70_001, inPlace: false, root: 2, chunkBytes: 8192 },
    ];
    for (const c of calls) {
      const seed = freshSeed();
      const bufs = ts.map((t) => allocateBuffers(c, 3, t.rank));
      bufs.forEach((b, r) => prepareRank(c, 3, r, seed, b));
      await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
      bufs.forEach((b, r) => expect(checkOutput(c, 3, r, seed, b.output), `${c.kind} ${c.dtype} rank ${r}`).toMatchObject({ passed: true, wrong: 0 }));
    }
  });

  it('runs reduce, all-to-all, gather, scatter and send/receive across 4 ranks, checked on every rank', async () => {
    const { ts } = await wsGroup(4);
    const calls: CollectiveCall[] = [
      { kind: 'reduce', dtype: 'f32', op: 'sum', algorithm: 'tree', count: 200_003, inPlace: false, root: 3, chunkBytes: 32 * 1024 },
      { kind: 'reduce', dtype: 'bf16', op: 'avg', algorithm: 'auto', count: 999, inPlace: true, root: 1 },
      { kind: 'reduce', dtype: 'i32', op: 'prod', algorithm: 'auto', count: 5, inPlace: false },
      { kind: 'alltoall', dtype: 'f16', op: 'sum', algorithm: 'pairwise', count: 4 * 4097, inPlace: false, chunkBytes: 1024 },
      { kind: 'gather', dtype: 'f32', op: 'sum', algorithm: 'linear', count: 4 * 30_001, inPlace: true, root: 2, chunkBytes: 8192 },
      { kind: 'gather', dtype: 'i32', op: 'sum', algorithm: 'auto', count: 4 * 3, inPlace: false, root: 0 },
      { kind: 'scatter', dtype: 'bf16', op: 'sum', algorithm: 'linear', count: 4 * 30_001, inPlace: false, root: 1, chunkBytes: 8192 },
      { kind: 'scatter', dtype: 'f32', op: 'sum', algorithm: 'auto', count: 4 * 7, inPlace: true, root: 3 },
      { kind: 'sendrecv', dtype: 'f32', op: 'sum', algorithm: 'shift', count: 100_001, inPlace: false, chunkBytes: 16 * 1024 },
    ];
    for (const c of calls) {
      const seed = freshSeed();
      const bufs = ts.map((t) => allocateBuffers(c, 4, t.rank));
      bufs.forEach((b, r) => prepareRank(c, 4, r, seed, b));
      await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
      bufs.forEach((b, r) => expect(checkOutput(c, 4, r, seed, checkedBytes(c, 4, r, b)), `${c.kind} ${c.dtype} rank ${r}`).toMatchObject({ passed: true, wrong: 0 }));
    }
  });

  it('refuses a data link with the wrong token or run id, and keeps serving the others', async () => {
    const server = await DataServer.listen('127.0.0.1');
    server.expect('run-1', 2, 'secret');
    const tryHello = (hello: object) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
        ws.on('open', () => ws.send(JSON.stringify(hello)));
        ws.on('close', (code) => resolve(code));
        ws.on('error', () => undefined);
      });
    expect(await tryHello({ type: 'data-hello', runId: 'run-1', token: 'nope', rank: 1 })).toBe(1008);
    expect(await tryHello({ type: 'data-hello', runId: 'run-2', token: 'secret', rank: 1 })).toBe(1008);
    expect(await tryHello({ garbage: true })).toBe(1008);
    expect(server.refused).toEqual(['wrong token', 'wrong run id', 'not a data hello']);
    await server.close();
  });
});

describe('a data link from a peer welcomed first', () => {
  it('is held until this rank knows its run, then admitted; a stranger held alike is then refused', async () => {
    // Rank 0 was welcomed and connects before rank 1 has processed its own welcome.
    const server = await DataServer.listen('127.0.0.1');
    const closed: number[] = [];
    const early = (hello: object) =>
      new Promise<WebSocket>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
        ws.on('open', () => {
          ws.send(JSON.stringify(hello));
          resolve(ws);
        });
        ws.on('close', (code) => closed.push(code));
        ws.on('error', () => undefined);
      });
    const peer = await early({ type: 'data-hello', runId: 'run-1', token: 'secret', rank: 0 });
    const stranger = await early({ type: 'data-hello', runId: 'run-0', token: 'secret', rank: 0 });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.refused, 'nothing judged before the welcome').toEqual([]);
    server.expect('run-1', 2, 'secret');
    const links = await server.waitForPeers([0], 2000);
    expect(links.has(0)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.refused).toEqual(['wrong run id']);
    expect(closed).toEqual([1008]);
    peer.close();
    stranger.terminate();
    await server.close();
  });
});

// detectLaunch: test/launchers.test.ts.
