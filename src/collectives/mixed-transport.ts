/**
 * A rank of a process that runs several consecutive ranks (`--gpus-per-process N`): its
 * messages to the other ranks of the same process go through an in-process group
 * (inprocess.ts), those to ranks of other processes over its own WebSocket links
 * (ws-transport.ts). Everything written over `Transport` (algorithms, barriers, the
 * measurement loop, the checks) then runs unchanged, rank by rank.
 */
import type { Transport } from './transport.js';

export class MixedTransport implements Transport {
  /**
   * @param first the process's first rank; local ranks are first … first + local.size − 1
   * @param local this rank in the process's in-process group (its rank there is rank − first)
   * @param remote this rank's WebSocket links to every rank of the other processes
   */
  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly first: number,
    private readonly local: Transport,
    private readonly remote: Transport,
  ) {}

  private here(peer: number): boolean {
    return peer >= this.first && peer < this.first + this.local.size;
  }

  send(peer: number, bytes: Uint8Array): Promise<void> {
    return this.here(peer) ? this.local.send(peer - this.first, bytes) : this.remote.send(peer, bytes);
  }

  recv(peer: number): Promise<Uint8Array> {
    return this.here(peer) ? this.local.recv(peer - this.first) : this.remote.recv(peer);
  }

  recvInto(peer: number, dst: Uint8Array): Promise<Uint8Array> {
    return this.here(peer) ? this.local.recvInto(peer - this.first, dst) : this.remote.recvInto(peer, dst);
  }

  recvKept(peer: number): Promise<Uint8Array> {
    return this.here(peer) ? this.local.recvKept(peer - this.first) : this.remote.recvKept(peer);
  }

  release(peer: number, bytes: Uint8Array): void {
    if (this.here(peer)) this.local.release(peer - this.first, bytes);
    else this.remote.release(peer, bytes);
  }

  async close(): Promise<void> {
    await Promise.all([this.local.close(), this.remote.close()]);
  }
}
