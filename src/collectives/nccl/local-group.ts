/**
 * The ranks one worker process drives (`--gpus-per-process N`): each rank keeps its own
 * JavaScript side (bootstrap messages, inputs, checks, the measurement loop, over a
 * MixedTransport), but NCCL requires that one thread driving several GPUs issues their
 * calls inside one ncclGroupStart/ncclGroupEnd. This gate collects the same call from
 * every local rank and, once all N have asked, issues it once for all of them through the
 * addon (ncclGroupConnect/Checked/Time), then hands each rank its share. The ranks reach
 * their calls in step: every one runs the same case, and the ones that wait on others do
 * so at barriers over the transport, never inside NCCL.
 *
 * Nothing waits without a bound: ranks that never ask within the call deadline are named,
 * and a group call past it aborts every local communicator (ncclCommAbort).
 */
import type { NativeAddon, NativeGroupCall, NativeNcclComm } from '../../kernels/cuda/addon.js';
import { native } from '../../kernels/cuda/errors.js';
import { ncclCallTimeoutMs, ncclInitTimeoutMs, NcclTimeoutError } from './comm.js';

type Kind = 'connect' | 'checked' | 'time';
type Share = true | Uint8Array | number;

interface Pending {
  kind: Kind;
  arg: number | Uint8Array | undefined;
  asked: Map<number, { resolve: (v: Share) => void; reject: (e: Error) => void }>;
  timer: NodeJS.Timeout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NcclLocalGroup {
  private readonly comms: (NativeNcclComm | undefined)[];
  private pending?: Pending;

  /**
   * @param first the process's first rank
   * @param count how many consecutive ranks it drives
   */
  constructor(
    private readonly addon: NativeAddon,
    readonly first: number,
    readonly count: number,
  ) {
    this.comms = new Array<NativeNcclComm | undefined>(count).fill(undefined);
  }

  private label(): string {
    return this.count === 1 ? `rank ${this.first}` : `ranks ${this.first}–${this.first + this.count - 1}`;
  }

  /** ncclCommInitRank of every local rank in one group; resolves for each once all are connected. */
  connect(rank: number, comm: NativeNcclComm, id: Uint8Array): Promise<true> {
    return this.ask(rank, comm, 'connect', id) as Promise<true>;
  }

  /** One grouped call; this rank's output bytes. */
  checked(rank: number, comm: NativeNcclComm): Promise<Uint8Array> {
    return this.ask(rank, comm, 'checked', undefined) as Promise<Uint8Array>;
  }

  /** `iterations` grouped calls between CUDA events; this rank's milliseconds. */
  time(rank: number, comm: NativeNcclComm, iterations: number): Promise<number> {
    return this.ask(rank, comm, 'time', iterations) as Promise<number>;
  }

  private ask(rank: number, comm: NativeNcclComm, kind: Kind, arg: Pending['arg']): Promise<Share> {
    const i = rank - this.first;
    if (i < 0 || i >= this.count) return Promise.reject(new Error(`rank ${rank} is not one of this process's ${this.label()}`));
    this.comms[i] = comm;
    const limit = kind === 'connect' ? ncclInitTimeoutMs() : ncclCallTimeoutMs();
    if (!this.pending) {
      const timer = setTimeout(() => {
        const p = this.pending;
        if (!p) return;
        this.pending = undefined;
        const missing = Array.from({ length: this.count }, (_, k) => this.first + k).filter((r) => !p.asked.has(r - this.first));
        const err = new NcclTimeoutError(`nccl ${kind} of this process's ${this.label()}: rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')} never issued the call within ${limit} ms`);
        for (const w of p.asked.values()) w.reject(err);
      }, limit);
      timer.unref();
      this.pending = { kind, arg, asked: new Map(), timer };
    }
    const p = this.pending;
    if (p.kind !== kind || (typeof arg === 'number' && p.arg !== arg))
      return Promise.reject(new Error(`nccl group of ${this.label()}: rank ${rank} issued ${kind}${typeof arg === 'number' ? `(${arg})` : ''} while the others issued ${p.kind}${typeof p.arg === 'number' ? `(${p.arg})` : ''}`));
    const share = new Promise<Share>((resolve, reject) => p.asked.set(i, { resolve, reject }));
    if (p.asked.size === this.count) {
      clearTimeout(p.timer);
      this.pending = undefined;
      void this.issue(p, limit);
    }
    return share;
  }

  /** Issues the call for every local rank and settles each rank's share. */
  private async issue(p: Pending, limit: number): Promise<void> {
    const comms = this.comms as NativeNcclComm[];
    try {
      let call: NativeGroupCall<true | Uint8Array[] | number[]>;
      if (p.kind === 'connect') call = native(() => this.addon.ncclGroupConnect(comms, p.arg as Uint8Array));
      else if (p.kind === 'checked') call = native(() => this.addon.ncclGroupChecked(comms));
      else call = native(() => this.addon.ncclGroupTime(comms, p.arg as number));
      const deadline = Date.now() + limit;
      let delay = 1;
      for (;;) {
        const v = native(() => call.poll());
        if (v !== undefined) {
          for (const [i, w] of p.asked) w.resolve(v === true ? true : v[i]!);
          return;
        }
        if (Date.now() > deadline) {
          const last = comms.map((c) => c.abort()).filter((x) => x)[0];
          const what = p.kind === 'connect'
            ? `ncclCommInitRank of ${this.label()} (one ncclGroupStart/End) did not complete within ${limit} ms: NCCL's own bootstrap between the ranks is stuck`
            : `nccl ${p.kind === 'time' ? `${String(p.arg)} × ` : ''}grouped call on ${this.label()} did not complete within ${limit} ms; communicators aborted (ncclCommAbort)`;
          throw new NcclTimeoutError(`${what}${last ? `: NCCL says: ${last}` : ''}`);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 20);
      }
    } catch (err) {
      for (const w of p.asked.values()) w.reject(err as Error);
    }
  }
}
