/**
 * The transport seam: a rank of a group of `size` ranks that can send a message of bytes
 * to a peer and receive the next message from a peer. Messages between one ordered pair
 * arrive whole and in order. Algorithms are written once over this interface and run
 * in-process (tests, local adapters) or over WebSockets between processes and hosts.
 */

/** One rank's view of a communicator. */
export interface Transport {
  /** This rank, 0 ≤ rank < size. */
  readonly rank: number;
  /** Number of ranks in the group. */
  readonly size: number;
  /**
   * Sends one message to `peer`. Resolves once the bytes are handed off (copied, or
   * written to the socket), so the caller may reuse the memory afterwards; awaiting it is
   * how backpressure reaches the algorithm.
   */
  send(peer: number, bytes: Uint8Array): Promise<void>;
  /**
   * The next message from `peer`, in the order it was sent. The bytes are the caller's
   * until its next receive from the same peer (a transport may reuse the memory then):
   * use them at once, or copy what must outlive that.
   */
  recv(peer: number): Promise<Uint8Array>;
  /**
   * The next message from `peer`, written into `dst` (its length must be the message's;
   * anything else rejects). Where the message has not arrived yet a transport may read it
   * straight into `dst`, so `dst` must not be read or written until this resolves.
   */
  recvInto(peer: number, dst: Uint8Array): Promise<Uint8Array>;
  /**
   * The next message from `peer`, as `recv`, but the bytes stay the caller's until it
   * hands them back with `release` (a ring reduces into them and sends them on).
   */
  recvKept(peer: number): Promise<Uint8Array>;
  /** Hands bytes from `recvKept` back for reuse; the caller must not touch them again. */
  release(peer: number, bytes: Uint8Array): void;
  /** Closes the links; pending receives reject. */
  close(): Promise<void>;
}

/** Thrown when a link to a peer goes away or the transport is closed mid-operation. */
export class PeerLostError extends Error {
  override readonly name = 'PeerLostError';
}

/**
 * Per-peer FIFO of received messages with waiting receivers: the part every transport
 * shares. `push` delivers, `next` waits, `fail` rejects every waiter and later call.
 */
export class Mailbox {
  private readonly queue: Uint8Array[] = [];
  private readonly waiters: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  private error?: Error;

  push(b: Uint8Array): void {
    const w = this.waiters.shift();
    if (w) w.resolve(b);
    else this.queue.push(b);
  }

  next(): Promise<Uint8Array> {
    const b = this.queue.shift();
    if (b) return Promise.resolve(b);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  fail(err: Error): void {
    this.error ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
