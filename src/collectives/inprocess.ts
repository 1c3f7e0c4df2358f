/**
 * The in-process transport: every rank of the group lives in this process (unit tests,
 * several WebGPU adapters of one machine). A send copies the bytes, as a wire would, so a
 * sender may reuse its buffer as soon as the promise resolves.
 */
import { Mailbox, PeerLostError, type Transport } from './transport.js';
import { copyBytes } from './dtypes.js';

class InProcessRank implements Transport {
  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly boxes: Mailbox[][],
    private readonly group: { closed: boolean },
  ) {}

  send(peer: number, bytes: Uint8Array): Promise<void> {
    if (this.group.closed) return Promise.reject(new PeerLostError('transport closed'));
    this.boxes[this.rank]![peer]!.push(copyBytes(bytes));
    return Promise.resolve();
  }

  recv(peer: number): Promise<Uint8Array> {
    return this.boxes[peer]![this.rank]!.next();
  }

  async recvInto(peer: number, dst: Uint8Array): Promise<Uint8Array> {
    const got = await this.recv(peer);
    if (got.byteLength !== dst.byteLength) throw new PeerLostError(`a ${got.byteLength}-byte message from rank ${peer} where ${dst.byteLength} bytes were expected`);
    dst.set(got);
    return dst;
  }

  /** Every message here is a fresh copy already: the caller keeps it. */
  recvKept(peer: number): Promise<Uint8Array> {
    return this.recv(peer);
  }

  release(): void {
    // Nothing to reuse: the copies are the garbage collector's.
  }

  close(): Promise<void> {
    this.group.closed = true;
    for (const row of this.boxes) for (const b of row) b.fail(new PeerLostError('transport closed'));
    return Promise.resolve();
  }
}

/** A group of `size` connected ranks in this process; index i is rank i. */
export function inProcessGroup(size: number): Transport[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`group size must be a positive integer, got ${size}`);
  // boxes[src][dst]: messages from src waiting for dst.
  const boxes = Array.from({ length: size }, () => Array.from({ length: size }, () => new Mailbox()));
  const group = { closed: false };
  return Array.from({ length: size }, (_, r) => new InProcessRank(r, size, boxes, group));
}
