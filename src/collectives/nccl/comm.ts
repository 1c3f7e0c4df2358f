/**
 * NCCL across processes without MPI: gpubench's control plane is the bootstrap. Every
 * worker (one rank, one GPU) brings its device up and tells rank 0 over the WebSocket data
 * links; rank 0, once every rank is ready, calls ncclGetUniqueId and sends the 128 bytes to
 * every rank over the same links; every rank then calls ncclCommInitRank(size, id, rank) on
 * its device. The communicator is kept for the rest of the run (cases set up their buffers
 * on it) and destroyed when the worker ends.
 *
 * Nothing waits without a bound: the device coming up, the id arriving, ncclCommInitRank
 * and every collective have deadlines (GPUBENCH_NCCL_INIT_TIMEOUT_MS, default 120 s;
 * GPUBENCH_NCCL_TIMEOUT_MS, default 300 s, per call). Calls that wait on other ranks run on
 * a native thread, so heartbeats go on meanwhile; past a deadline the communicator is
 * aborted (ncclCommAbort) and the error names the ranks waited for where gpubench knows
 * them (those that never got ready), and NCCL's own last error otherwise.
 */
import type { NativeNcclComm } from '../../kernels/cuda/addon.js';
import { cudaStack, type CudaStack } from '../../kernels/cuda/context.js';
import { native } from '../../kernels/cuda/errors.js';
import { ncclVersionString } from '../../kernels/cuda/nccl.js';
import type { Transport } from '../transport.js';
import type { CollectiveCall } from '../collective.js';
import type { NcclLocalGroup } from './local-group.js';

/** Bytes of an ncclUniqueId. */
export const NCCL_UNIQUE_ID_BYTES = 128;

const envMs = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

/** How long bringing a communicator up may take (device, id, ncclCommInitRank), each step. */
export const ncclInitTimeoutMs = (): number => envMs('GPUBENCH_NCCL_INIT_TIMEOUT_MS', 120_000);
/** How long one checked call or one timed batch may take before the communicator is aborted. */
export const ncclCallTimeoutMs = (): number => envMs('GPUBENCH_NCCL_TIMEOUT_MS', 300_000);

/**
 * The GPU a worker's rank uses: GPUBENCH_CUDA_DEVICE where set, else the launcher's local
 * rank (Slurm, Open MPI, torchrun, or GPUBENCH_LOCAL_RANK; `--local-nodes` sets it), else 0.
 */
export function ncclDeviceFor(localRank: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const given = env.GPUBENCH_CUDA_DEVICE;
  if (given !== undefined && given.trim() !== '') {
    const d = Number(given);
    if (!Number.isInteger(d) || d < 0) throw new Error(`GPUBENCH_CUDA_DEVICE="${given}" is not a CUDA ordinal`);
    return d;
  }
  return localRank ?? 0;
}

/** Thrown when a step passes its deadline; the communicator is aborted by then. */
export class NcclTimeoutError extends Error {
  override readonly name = 'NcclTimeoutError';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Awaits `p` until `deadline` (epoch ms); a late `p` is left to settle unobserved. */
async function before<T>(p: Promise<T>, deadline: number, onLate: () => Error): Promise<T> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onLate()), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** This process's rank of a communicator that spans the run's workers. */
export class NcclRank {
  private disposed = false;
  private connected = false;
  /** With several ranks in this process: the gate that issues their calls as one NCCL group. */
  private group?: NcclLocalGroup;

  private constructor(
    readonly comm: NativeNcclComm,
    readonly rank: number,
    readonly size: number,
    readonly device: number,
    /** e.g. "NVIDIA H100 80GB HBM3 (cuda:0)" */
    readonly deviceName: string,
    readonly ncclVersion: string,
  ) {}

  /**
   * Brings this rank's communicator up with every other rank of `t` (see the file's
   * comment). Every rank must call it at the same point of the run.
   */
  static async open(t: Transport, device: number, stackOverride?: CudaStack, group?: NcclLocalGroup): Promise<NcclRank> {
    let stack = stackOverride;
    if (!stack) {
      const s = await cudaStack();
      if (!s.ok) throw new Error(`NCCL on this rank: ${s.reason}`);
      stack = s.stack;
    }
    if (!stack.nccl.ok) throw new Error(`NCCL on this rank: ${stack.nccl.reason}`);
    const dev = stack.devices.find((d) => d.index === device);
    if (!dev)
      throw new Error(
        `cuda:${device} does not exist: this host has ${stack.devices.length} GPU${stack.devices.length === 1 ? '' : 's'} (ordinals 0..${stack.devices.length - 1}); ` +
          'NCCL runs one process per GPU: start at most that many ranks per host, or set GPUBENCH_CUDA_DEVICE',
      );
    const addon = stack.addon;
    const limit = ncclInitTimeoutMs();
    const comm = native(() => new addon.NcclComm({ device, nranks: t.size, rank: t.rank }));
    const rank = new NcclRank(comm, t.rank, t.size, device, `${dev.name} (cuda:${device})`, ncclVersionString(stack.nccl.version));
    rank.group = group;
    try {
      await rank.wait(Date.now() + limit, () => `cuda:${device} did not come up within ${limit} ms`);
      let id: Uint8Array;
      if (t.rank === 0) {
        // Every rank says when its device is up: a rank that never does is named here.
        const ready = new Set<number>([0]);
        const deadline = Date.now() + limit;
        await before(
          Promise.all(Array.from({ length: t.size - 1 }, (_, i) => t.recv(i + 1).then(() => ready.add(i + 1)))),
          deadline,
          () => {
            const missing = Array.from({ length: t.size }, (_, r) => r).filter((r) => !ready.has(r));
            return new NcclTimeoutError(
              `NCCL bootstrap: rank${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${t.size} never got ready for ncclCommInitRank within ${limit} ms (its GPU did not come up)`,
            );
          },
        );
        id = native(() => addon.ncclUniqueId());
        await Promise.all(Array.from({ length: t.size - 1 }, (_, i) => t.send(i + 1, id)));
      } else {
        await t.send(0, Uint8Array.of(1));
        // Twice the limit: rank 0 waits up to the limit for the slowest rank first, and its
        // error (naming that rank) is the one worth reporting.
        id = new Uint8Array(
          await before(t.recv(0), Date.now() + 2 * limit, () => new NcclTimeoutError(`NCCL bootstrap: no ncclUniqueId from rank 0 within ${2 * limit} ms`)),
        );
        if (id.byteLength !== NCCL_UNIQUE_ID_BYTES) throw new Error(`NCCL bootstrap: rank 0 sent ${id.byteLength} bytes, not a ${NCCL_UNIQUE_ID_BYTES}-byte ncclUniqueId`);
      }
      if (group) await group.connect(t.rank, comm, id);
      else native(() => comm.connect(id));
      if (!group) await rank.wait(
        Date.now() + limit,
        () => `ncclCommInitRank (rank ${t.rank} of ${t.size}, cuda:${device}) did not complete within ${limit} ms though every rank got ready for it: NCCL's own bootstrap between the ranks is stuck (check that the hosts reach each other on NCCL_SOCKET_IFNAME's interface)`,
      );
      rank.connected = true;
      return rank;
    } catch (err) {
      rank.dispose();
      throw err;
    }
  }

  /**
   * Polls the call in flight until it settles or `deadline` passes; then the communicator
   * is aborted and the error says what did not complete (`what()`), with NCCL's last error.
   */
  async wait<T>(deadline: number, what: () => string): Promise<T> {
    let delay = 1;
    for (;;) {
      const v = native(() => this.comm.poll());
      if (v !== undefined) return v as T;
      if (Date.now() > deadline) {
        const last = this.comm.abort();
        // Before ncclCommInitRank returns there is no communicator to abort: the stuck call
        // ends with this process, when the run has failed.
        const ended = this.connected ? '; communicator aborted (ncclCommAbort)' : '';
        throw new NcclTimeoutError(`${what()}${ended}${last ? `: NCCL says: ${last}` : ''}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 20);
    }
  }

  /**
   * Sets up one case's buffers on the communicator; `read`: which buffer the checked call
   * reads back (the output, or the input where NCCL defines no output on this rank).
   */
  setup(c: CollectiveCall, read: 'output' | 'input'): void {
    native(() => this.comm.setup({ kind: c.kind, count: c.count, dtype: c.dtype, op: c.op, inPlace: c.inPlace, read, ...(c.root !== undefined ? { root: c.root } : {}) }));
  }

  /** Copies this rank's buffers to its GPU as the host made them (input bytes, poisoned output). */
  upload(input: Uint8Array, output: Uint8Array): void {
    native(() => this.comm.upload(input, output));
  }

  /** One call; the bytes of the buffer the check reads (`setup`'s `read`: the output, or the input where the rank has none). */
  async runChecked(c: CollectiveCall): Promise<Uint8Array> {
    if (this.group) return this.group.checked(this.rank, this.comm);
    native(() => this.comm.startChecked());
    const limit = ncclCallTimeoutMs();
    return this.wait<Uint8Array>(Date.now() + limit, () => `nccl ${c.kind} (rank ${this.rank} of ${this.size}, cuda:${this.device}) did not complete within ${limit} ms`);
  }

  /** Milliseconds for `iterations` calls on this rank's stream (CUDA events). */
  async time(c: CollectiveCall, iterations: number): Promise<number> {
    if (this.group) return this.group.time(this.rank, this.comm, iterations);
    native(() => this.comm.startTime(iterations));
    const limit = ncclCallTimeoutMs();
    return this.wait<number>(Date.now() + limit, () => `${iterations} × nccl ${c.kind} (rank ${this.rank} of ${this.size}, cuda:${this.device}) did not complete within ${limit} ms`);
  }

  /** Destroys the communicator (aborts it where a call is still in flight). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.comm.dispose();
    } catch {
      // Ending the run: a communicator that cannot be destroyed is left to the process exit.
    }
  }
}
