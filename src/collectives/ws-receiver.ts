/**
 * The receiving end of a data link: a WebSocket client (RFC 6455) that only receives
 * binary messages, written over a plain TCP socket so that it can read with `net`'s
 * `onread` straight into the memory each message is bound for. The `ws` client would
 * read into a fresh 64 KiB buffer per read and concatenate them into a fresh buffer per
 * message: two allocations and a copy per byte, which on a loaded host cost more than
 * the kernel's own copy. Here a message lands either in the buffer a receiver has posted
 * (`recvInto`: no copy beyond the kernel's) or in a reused staging buffer.
 *
 * Protocol: a client handshake with key and accept check; unmasked server frames; one
 * frame per message (FIN set, binary). Pings are answered, a close frame is answered and
 * ends the link; text, fragmented, masked or oversized frames are protocol errors that
 * cut the link (the sender is a peer that misbehaves).
 */
import { connect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Mailbox, PeerLostError } from './transport.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest handshake response accepted. */
const MAX_HANDSHAKE = 16 * 1024;
/** Reads of headers and small messages go here first; payload bytes beyond a header are copied on. */
const SCRATCH_BYTES = 64 * 1024;
/** Staged bytes above which the socket stops reading until a receiver catches up (TCP backpressure). */
const MAX_STAGED_BYTES = 256 * 1024 * 1024;
/** Free staging memory kept per link for reuse. */
const MAX_POOLED_BYTES = 64 * 1024 * 1024;

const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** Thrown for a frame this link does not accept; the link is cut. */
export class DataProtocolError extends PeerLostError {}

/** One client frame (masked, as RFC 6455 requires of clients). */
export function maskedFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const len = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(len + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  mask.copy(out, len);
  for (let i = 0; i < n; i++) out[len + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

interface Posted {
  /** Where the message goes; undefined: a staging buffer, lent to the receiver. */
  dst?: Uint8Array;
  /** The staging buffer is the receiver's until it releases it (not lent). */
  kept?: boolean;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** What the reader is doing. */
type State =
  | { kind: 'handshake' }
  | { kind: 'header' }
  | { kind: 'payload'; opcode: number; into: Uint8Array; filled: number; posted?: Posted }
  | { kind: 'closed' };

/** A connected, handshaken link from one peer's data server. */
export class ReceiveLink {
  private readonly socket: Socket;
  private state: State;
  /** Received bytes not yet parsed (a header split across reads, or the scratch's tail). */
  private pending: Buffer = Buffer.alloc(0);
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  /** Whole messages that arrived before anybody asked, in order. */
  private readonly staged: Uint8Array[] = [];
  private stagedBytes = 0;
  private readonly posted: Posted[] = [];
  /** Free staging buffers by size. */
  private readonly pool = new Map<number, Uint8Array[]>();
  private pooledBytes = 0;
  /** The staging buffer the receiver holds now; back to the pool at its next receive. */
  private lent?: Uint8Array;
  private paused = false;
  private error?: Error;
  private readonly opened: Mailbox = new Mailbox();

  private constructor(
    host: string,
    port: number,
    private readonly key: string,
    private readonly hello: string,
    private readonly maxPayload: number,
    private readonly label: string,
    private readonly maxStagedBytes: number,
  ) {
    this.state = { kind: 'handshake' };
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: () => this.nextBuffer(), callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) },
    });
    this.socket.on('error', (err) => this.fail(new PeerLostError(`${this.label}: ${err.message}`)));
    this.socket.on('close', () => this.fail(new PeerLostError(`${this.label} closed`)));
  }

  /**
   * Opens a link: TCP connect, the HTTP upgrade, then `hello` as the one text message
   * this client ever sends (besides pongs and a close). Rejects with the reason after
   * `timeoutMs`.
   */
  static async open(opts: {
    host: string;
    port: number;
    hello: string;
    maxPayload: number;
    label: string;
    timeoutMs: number;
    /** Staged bytes at which reading stops until receives catch up. @default 256 MiB */
    maxStagedBytes?: number;
  }): Promise<ReceiveLink> {
    const key = randomBytes(16).toString('base64');
    const link = new ReceiveLink(opts.host, opts.port, key, opts.hello, opts.maxPayload, opts.label, opts.maxStagedBytes ?? MAX_STAGED_BYTES);
    const hostHeader = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    link.socket.write(
      `GET / HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        link.opened.next(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new PeerLostError(`${opts.label}: no handshake within ${opts.timeoutMs} ms`)), opts.timeoutMs);
        }),
      ]);
    } catch (err) {
      link.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return link;
  }

  /** The next message; the bytes are the caller's until its next receive on this link. */
  recv(): Promise<Uint8Array> {
    return this.next(false);
  }

  /** The next message, the caller's until it gives it back with `release`. */
  recvKept(): Promise<Uint8Array> {
    return this.next(true);
  }

  private next(kept: boolean): Promise<Uint8Array> {
    this.giveBack();
    const s = this.staged.shift();
    if (!s) return this.post(undefined, kept);
    this.unstage(s);
    if (!kept) this.lent = s;
    return Promise.resolve(s);
  }

  /** Takes back a buffer `recvKept` handed out, for the next messages of its size. */
  release(b: Uint8Array): void {
    if (this.pooledBytes + b.byteLength > MAX_POOLED_BYTES) return;
    const free = this.pool.get(b.byteLength) ?? [];
    free.push(b);
    this.pool.set(b.byteLength, free);
    this.pooledBytes += b.byteLength;
  }

  /** Receives the next message into `dst`, whose length must be the message's. */
  recvInto(dst: Uint8Array): Promise<Uint8Array> {
    this.giveBack();
    const s = this.staged.shift();
    if (s) {
      this.unstage(s);
      const fits = s.byteLength === dst.byteLength;
      if (fits) dst.set(s);
      this.release(s);
      if (!fits) return Promise.reject(new PeerLostError(`${this.label}: a ${s.byteLength}-byte message where ${dst.byteLength} bytes were expected`));
      return Promise.resolve(dst);
    }
    return this.post(dst);
  }

  /** Ends the link; pending receives reject. */
  close(): void {
    this.fail(new PeerLostError(`${this.label}: transport closed`));
    this.destroy();
  }

  private destroy(): void {
    this.socket.destroy();
  }

  private post(dst: Uint8Array | undefined, kept = false): Promise<Uint8Array> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<Uint8Array>((resolve, reject) => this.posted.push({ dst, kept, resolve, reject }));
  }

  private giveBack(): void {
    if (this.lent) this.release(this.lent);
    this.lent = undefined;
  }

  private unstage(s: Uint8Array): void {
    this.stagedBytes -= s.byteLength;
    if (this.paused && this.stagedBytes < this.maxStagedBytes) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private take(size: number): Uint8Array {
    const free = this.pool.get(size);
    const b = free?.pop();
    if (b) {
      this.pooledBytes -= size;
      return b;
    }
    return new Uint8Array(size);
  }

  /** Where the next read goes: straight into a message's remaining bytes, else the scratch. */
  private nextBuffer(): Uint8Array {
    const s = this.state;
    if (s.kind === 'payload' && this.pending.byteLength === 0) return s.into.subarray(s.filled);
    return this.scratch;
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    try {
      const s = this.state;
      if (s.kind === 'payload' && buf !== this.scratch) {
        s.filled += n;
        if (s.filled === s.into.byteLength) this.finish(s);
      } else {
        // The scratch is reused by the next read: keep an own copy of what is left unparsed.
        const got = Buffer.from(buf.buffer, buf.byteOffset, n);
        this.pending = this.pending.byteLength ? Buffer.concat([this.pending, got]) : got;
        this.parse();
        if (this.pending.byteLength && this.pending.buffer === this.scratch.buffer) this.pending = Buffer.from(this.pending);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      this.destroy();
      return false;
    }
    if (this.stagedBytes >= this.maxStagedBytes && !this.paused) {
      this.paused = true;
      return false;
    }
    return this.state.kind !== 'closed';
  }

  /** Consumes `pending` as far as it goes. */
  private parse(): void {
    for (;;) {
      const s = this.state;
      if (s.kind === 'closed') return;
      if (s.kind === 'handshake') {
        if (!this.handshake()) return;
        continue;
      }
      if (s.kind === 'payload') {
        const want = s.into.byteLength - s.filled;
        const k = Math.min(want, this.pending.byteLength);
        s.into.set(this.pending.subarray(0, k), s.filled);
        s.filled += k;
        this.pending = this.pending.subarray(k);
        if (s.filled === s.into.byteLength) this.finish(s);
        else return;
        continue;
      }
      if (!this.header()) return;
    }
  }

  private handshake(): boolean {
    const end = this.pending.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.pending.byteLength > MAX_HANDSHAKE) throw new DataProtocolError(`${this.label}: handshake response over ${MAX_HANDSHAKE} bytes`);
      return false;
    }
    const [status, ...lines] = this.pending.subarray(0, end).toString('latin1').split('\r\n');
    this.pending = this.pending.subarray(end + 4);
    if (!/^HTTP\/1\.1 101 /.test(status ?? '')) throw new DataProtocolError(`${this.label}: upgrade refused: ${status}`);
    const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const accept = createHash('sha1').update(this.key + GUID).digest('base64');
    if (headers.get('sec-websocket-accept') !== accept) throw new DataProtocolError(`${this.label}: bad Sec-WebSocket-Accept`);
    if (headers.get('upgrade')?.toLowerCase() !== 'websocket') throw new DataProtocolError(`${this.label}: not a WebSocket upgrade`);
    this.state = { kind: 'header' };
    // The hello goes out before anything the server sent after its 101 is answered.
    this.socket.write(maskedFrame(0x1, Buffer.from(this.hello)));
    this.opened.push(new Uint8Array(0));
    return true;
  }

  /** Parses one frame header from `pending`; false when it is not all there yet. */
  private header(): boolean {
    const p = this.pending;
    if (p.byteLength < 2) return false;
    const b0 = p[0]!;
    const b1 = p[1]!;
    let len = b1 & 0x7f;
    let at = 2;
    if (len === 126) {
      if (p.byteLength < 4) return false;
      len = p.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (p.byteLength < 10) return false;
      const big = p.readBigUInt64BE(2);
      if (big > BigInt(this.maxPayload)) throw new DataProtocolError(`${this.label}: a ${big}-byte frame exceeds the ${this.maxPayload}-byte limit`);
      len = Number(big);
      at = 10;
    }
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) throw new DataProtocolError(`${this.label}: reserved frame bits set`);
    if (b1 & 0x80) throw new DataProtocolError(`${this.label}: a masked frame from the server`);
    if (!(b0 & 0x80)) throw new DataProtocolError(`${this.label}: a fragmented message (data links send one frame per message)`);
    if (opcode !== OP_BINARY && opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG)
      throw new DataProtocolError(`${this.label}: frame opcode ${opcode} (data links carry binary messages only)`);
    if (len > this.maxPayload) throw new DataProtocolError(`${this.label}: a ${len}-byte message exceeds the ${this.maxPayload}-byte limit`);
    if (opcode !== OP_BINARY && len > 125) throw new DataProtocolError(`${this.label}: a ${len}-byte control frame`);
    this.pending = p.subarray(at);
    let into: Uint8Array;
    let posted: Posted | undefined;
    if (opcode === OP_BINARY) {
      posted = this.posted[0];
      if (posted?.dst && posted.dst.byteLength !== len)
        throw new DataProtocolError(`${this.label}: a ${len}-byte message where ${posted.dst.byteLength} bytes were expected`);
      if (posted) this.posted.shift();
      into = posted?.dst ?? this.take(len);
    } else into = new Uint8Array(len);
    const payload: Extract<State, { kind: 'payload' }> = { kind: 'payload', opcode, into, filled: 0, posted };
    this.state = payload;
    if (len === 0) this.finish(payload);
    return true;
  }

  /** A whole frame is in: hand it over. */
  private finish(s: Extract<State, { kind: 'payload' }>): void {
    this.state = { kind: 'header' };
    if (s.opcode === OP_BINARY) {
      // A receive posted while this message was already on its way into staging takes it now.
      const p = s.posted ?? this.posted.shift();
      if (!p) {
        this.staged.push(s.into);
        this.stagedBytes += s.into.byteLength;
      } else if (p.dst && p.dst !== s.into) {
        this.release(s.into);
        if (p.dst.byteLength !== s.into.byteLength) {
          const err = new DataProtocolError(`${this.label}: a ${s.into.byteLength}-byte message where ${p.dst.byteLength} bytes were expected`);
          p.reject(err);
          throw err;
        }
        p.dst.set(s.into);
        p.resolve(p.dst);
      } else {
        if (!p.dst && !p.kept) this.lent = s.into;
        p.resolve(s.into);
      }
    } else if (s.opcode === OP_PING) this.socket.write(maskedFrame(OP_PONG, s.into));
    else if (s.opcode === OP_CLOSE) {
      const code = s.into.byteLength >= 2 ? Buffer.from(s.into).readUInt16BE(0) : 1005;
      this.socket.end(maskedFrame(OP_CLOSE, s.into.subarray(0, 2)));
      this.fail(new PeerLostError(`${this.label} closed by the peer (code ${code}${s.into.byteLength > 2 ? `: ${Buffer.from(s.into.subarray(2)).toString()}` : ''})`));
    }
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.state = { kind: 'closed' };
    this.opened.fail(err);
    for (const p of this.posted.splice(0)) p.reject(err);
  }
}
