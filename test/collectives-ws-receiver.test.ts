/**
 * The receiving end of a data link against a real `ws` server (messages straight into
 * posted buffers, staged ones in order, lengths enforced) and against a raw TCP peer that
 * misbehaves in each way a WebSocket server can (the one thing a real server cannot be
 * made to do): every bad frame cuts the link with a protocol error naming it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DataServer, connectMesh } from '../src/collectives/ws-transport.js';
import { ReceiveLink } from '../src/collectives/ws-receiver.js';
import type { Transport } from '../src/collectives/transport.js';
import { freshSeed, uniform } from '../src/harness/random.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** A TCP server that answers the upgrade correctly (or not) and then writes `frames`. */
async function rawPeer(opts: { frames: Buffer[]; accept?: 'good' | 'bad' | 'refuse' }): Promise<{ port: number; got: Promise<Buffer> }> {
  let resolveGot: (b: Buffer) => void = () => undefined;
  const got = new Promise<Buffer>((r) => (resolveGot = r));
  const server: Server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || sock.writableEnded) return;
      const key = /sec-websocket-key: (.*)\r\n/i.exec(buf.subarray(0, end).toString())?.[1] ?? '';
      const accept = opts.accept === 'bad' ? 'nope' : createHash('sha1').update(key + GUID).digest('base64');
      if (opts.accept === 'refuse') {
        sock.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      for (const f of opts.frames) sock.write(f);
      // Whatever the client sends afterwards (its hello, a pong, a close) is collected.
      const rest: Buffer[] = [];
      sock.removeAllListeners('data');
      sock.on('data', (d: Buffer) => rest.push(d));
      sock.on('close', () => resolveGot(Buffer.concat(rest)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return { port: (server.address() as AddressInfo).port, got };
}

const frame = (b0: number, payload: Buffer, b1extra = 0): Buffer => Buffer.concat([Buffer.from([b0, b1extra | payload.length]), payload]);

async function open(port: number): Promise<ReceiveLink> {
  const link = await ReceiveLink.open({ host: '127.0.0.1', port, hello: '{"type":"data-hello"}', maxPayload: 1024, label: 'test link', timeoutMs: 5000 });
  cleanup.push(() => link.close());
  return link;
}

describe('a data link from a peer that misbehaves', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['a text frame', frame(0x81, Buffer.from('hi')), /opcode 1 \(data links carry binary messages only\)/],
    ['a masked frame', Buffer.concat([Buffer.from([0x82, 0x80 | 2, 1, 2, 3, 4]), Buffer.from([9, 9])]), /masked frame from the server/],
    ['a fragmented message', frame(0x02, Buffer.from('ab')), /fragmented message/],
    ['reserved bits', frame(0x82 | 0x40, Buffer.from('ab')), /reserved frame bits/],
    ['a message over the limit', Buffer.from([0x82, 126, 0x10, 0x00]), /4096-byte message exceeds the 1024-byte limit/],
  ];
  for (const [what, bytes, reason] of cases)
    it(`cuts the link on ${what}, rejecting the waiting receive with the reason`, async () => {
      const peer = await rawPeer({ frames: [bytes] });
      const link = await open(peer.port);
      await expect(link.recv()).rejects.toThrow(reason);
      await expect(link.recv(), 'later receives fail alike').rejects.toThrow(reason);
    });

  it('refuses a server whose Sec-WebSocket-Accept is wrong, or that does not upgrade', async () => {
    await expect(open((await rawPeer({ frames: [], accept: 'bad' })).port)).rejects.toThrow(/bad Sec-WebSocket-Accept/);
    await expect(open((await rawPeer({ frames: [], accept: 'refuse' })).port)).rejects.toThrow(/upgrade refused: HTTP\/1.1 403/);
  });

  it('answers a ping with a masked pong, and a close frame with a close, then reports the code', async () => {
    const close = Buffer.concat([Buffer.from([0x88, 2 + 3]), Buffer.from([0x03, 0xe8]), Buffer.from('bye')]);
    const peer = await rawPeer({ frames: [frame(0x89, Buffer.from('pp')), frame(0x82, Buffer.from('data')), close] });
    const link = await open(peer.port);
    expect(Buffer.from(await link.recv()).toString()).toBe('data');
    await expect(link.recv()).rejects.toThrow(/closed by the peer \(code 1000: bye\)/);
    const sent = await peer.got;
    // The hello (text), then the pong (0x8A) and the close (0x88), every one masked.
    const opcodes: number[] = [];
    for (let at = 0; at < sent.length; ) {
      expect(sent[at + 1]! & 0x80, 'client frames are masked').toBe(0x80);
      opcodes.push(sent[at]! & 0x0f);
      at += 2 + 4 + (sent[at + 1]! & 0x7f);
    }
    expect(opcodes).toEqual([0x1, 0xa, 0x8]);
  });
});

describe('a data link from a real ws server', () => {
  async function pair(): Promise<[Transport, Transport]> {
    const servers = await Promise.all([DataServer.listen('127.0.0.1'), DataServer.listen('127.0.0.1')]);
    for (const s of servers) s.expect('run', 2);
    const peers = servers.map((s, rank) => ({ rank, host: '127.0.0.1', port: s.port }));
    const ts = await Promise.all(servers.map((server, rank) => connectMesh({ rank, size: 2, runId: 'run', server, peers })));
    cleanup.push(() => Promise.all(ts.map((t) => t.close())));
    return ts as [Transport, Transport];
  }

  it('delivers messages in order whether they were waited for, staged, or posted into place', async () => {
    const [a, b] = await pair();
    const seed = freshSeed();
    const msgs = [1, 70_000, 3 << 20, 0, 200, 5 << 20].map((n, i) => new Uint8Array(uniform(Math.ceil(n / 4) + 1, seed + i).buffer).subarray(0, n));
    // Three sent before anybody waits (staged), then receives that wait.
    for (const m of msgs.slice(0, 3)) await a.send(1, m);
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.compare(await b.recv(0), msgs[0]!)).toBe(0);
    const into = new Uint8Array(70_000);
    expect(await b.recvInto(0, into)).toBe(into);
    expect(Buffer.compare(into, msgs[1]!)).toBe(0);
    expect(Buffer.compare(await b.recv(0), msgs[2]!)).toBe(0);
    // Posted before they are sent: they land straight in the posted buffers.
    const big = new Uint8Array(5 << 20);
    const waits = [b.recv(0), b.recv(0), b.recvInto(0, big)];
    for (const m of msgs.slice(3)) await a.send(1, m);
    const [empty, small] = await Promise.all(waits.slice(0, 2));
    expect(empty!.byteLength).toBe(0);
    expect(Buffer.compare(small!, msgs[4]!)).toBe(0);
    await waits[2];
    expect(Buffer.compare(big, msgs[5]!)).toBe(0);
  });

  it('rejects a receive whose buffer is not the message length, naming both', async () => {
    const [a, b] = await pair();
    await a.send(1, new Uint8Array(100));
    await expect(b.recvInto(0, new Uint8Array(64))).rejects.toThrow(/a 100-byte message where 64 bytes were expected/);
  });
});

describe('a data link whose receiver falls behind', () => {
  it('stops reading at the staging limit and resumes as receives catch up, losing nothing', async () => {
    const server = await DataServer.listen('127.0.0.1');
    server.expect('run', 2);
    const link = await ReceiveLink.open({
      host: '127.0.0.1', port: server.port, hello: JSON.stringify({ type: 'data-hello', runId: 'run', rank: 1 }),
      maxPayload: 1 << 24, label: 'slow link', timeoutMs: 5000, maxStagedBytes: 2 << 20,
    });
    cleanup.push(() => link.close(), () => server.close());
    const out = (await server.waitForPeers([1], 5000)).get(1)!;
    const seed = freshSeed();
    const msgs = Array.from({ length: 12 }, (_, i) => new Uint8Array(uniform(1 << 18, seed + i).buffer));
    const sent = msgs.map((m) => new Promise<void>((resolve, reject) => out.write(m, (err) => (err ? reject(err) : resolve()))));
    // Nobody receives for a while: far more than the 2 MiB limit is on its way.
    await new Promise((r) => setTimeout(r, 100));
    for (const [i, m] of msgs.entries()) expect(Buffer.compare(await link.recv(), m), `message ${i}`).toBe(0);
    await Promise.all(sent);
  });
});
