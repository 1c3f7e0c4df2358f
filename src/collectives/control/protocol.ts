/**
 * The control-plane protocol between the coordinator and its workers: JSON text frames,
 * each checked against these schemas on arrival and limited in size (`MAX_CONTROL_MESSAGE`).
 * A frame that is not JSON, not one of these, or too large is a protocol error: the
 * sender is disconnected (close code 1002, or 1009 for size) and the run reports it.
 *
 * worker → coordinator: hello, ready, heartbeat, progress, result, task-result, fault
 * coordinator → worker: welcome, case, task, done, abort (and WebSocket pings every heartbeat period,
 * so a worker cut off from the coordinator notices the silence)
 */
import { z } from 'zod';
import { COLLECTIVE_DTYPES } from '../dtypes.js';
import { REDUCE_OPS } from '../ops.js';
import { COLLECTIVES } from '../collective.js';
import { FleetTask, FleetTaskResult } from '../../fleet/protocol.js';

/**
 * Protocol version; a worker of another version is refused at hello.
 * 5: hello carries the worker's backend probes (`backends`) and its rank count (`ranks`, `dataPorts`).
 */
export const PROTOCOL_VERSION = 5;
/** Largest control frame, either way (a result of 50 samples × 1024 ranks fits easily). */
export const MAX_CONTROL_MESSAGE = 4 * 1024 * 1024;

const Int = z.number().int();
const Ms = z.number().finite().nonnegative();

/**
 * What a worker found when it probed a backend whose cases run on every rank (`nccl`):
 * the coordinator plans those cases from every worker's answer, not from its own host.
 */
export const WorkerBackendProbe = z.strictObject({
  available: z.boolean(),
  /** Why not, in words a person can act on ("libnccl.so.2 not found: …"). */
  reason: z.string().max(2000).optional(),
  /** Every GPU of the worker's host, as the driver reports it. */
  devices: z.array(z.strictObject({
    id: z.string().max(40),
    name: z.string().max(200),
    memoryBytes: z.number().nonnegative().optional(),
    architecture: z.string().max(40).optional(),
    uuid: z.string().max(80).optional(),
    pciBusId: z.string().max(40).optional(),
  })).max(256).optional(),
  /** The ordinals this worker's ranks drive, in rank order. */
  use: z.array(Int.min(0)).max(64).optional(),
  notes: z.array(z.string().max(500)).max(20).optional(),
  /** e.g. "2.27.3", and its version code (22703). */
  version: z.string().max(40).optional(),
  versionCode: Int.min(0).optional(),
});
export type WorkerBackendProbe = z.infer<typeof WorkerBackendProbe>;

export const Hello = z.strictObject({
  type: z.literal('hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  token: z.string().max(1000).optional(),
  /** Rank the launcher assigned (Slurm, Open MPI, torchrun, Kubernetes), if any. */
  rankHint: Int.min(0).optional(),
  /** World size the launcher gave; the coordinator refuses a run whose --world-size differs. */
  worldSize: Int.min(1).optional(),
  localRank: Int.min(0).optional(),
  launcher: z.string().max(40).optional(),
  hostname: z.string().max(255),
  pid: Int,
  dataHost: z.string().max(255),
  dataPort: Int.min(1).max(65535),
  /** The worker's environment fingerprint, for `environment.nodes`. */
  node: z.record(z.string(), z.unknown()),
  /** Consecutive ranks this process runs (`--gpus-per-process`). @default 1 */
  ranks: Int.min(1).max(64).optional(),
  /** With `ranks` > 1: the data port of each of its ranks, in order (`dataPort` is the first). */
  dataPorts: z.array(Int.min(1).max(65535)).max(64).optional(),
  /** The worker's probe of each backend whose cases run on every rank, by backend id. */
  backends: z.record(z.string().max(40), WorkerBackendProbe).optional(),
});
export type Hello = z.infer<typeof Hello>;

export const Ready = z.strictObject({ type: z.literal('ready') });
export const Heartbeat = z.strictObject({ type: z.literal('heartbeat') });
/** Rank 0's progress through a case (samples taken so far), at most a few a second. */
export const Progress = z.strictObject({ type: z.literal('progress'), index: Int.min(0), samples: Int.min(0) });

const CheckSchema = z.strictObject({
  passed: z.boolean(),
  maxRelError: z.number().nullable(),
  tolerance: z.number(),
  wrong: Int.min(0),
  checked: Int.min(0).optional(),
  seed: Int.optional(),
});

export const RankResultSchema = z.strictObject({
  rank: Int.min(0),
  check: CheckSchema,
  algorithm: z.string().max(60),
  reduction: z.enum(['native', 'js']).optional(),
  ownSamplesMs: z.array(Ms).max(100_000),
  samplesMs: z.array(Ms).max(100_000).optional(),
  perRankSamplesMs: z.array(z.array(Ms).max(100_000)).max(100_000).optional(),
  warmup: z.strictObject({ iterations: Int.min(0), ms: Ms, settled: z.boolean().optional(), jitCalls: Int.min(0).optional() }).optional(),
  timer: z.enum(['wall-clock', 'cuda-event']).optional(),
  device: z.string().max(255).optional(),
  ncclVersion: z.string().max(40).optional(),
  /** Rank 0 only: every rank's time per call in the nccl-tests-convention loop, µs, by rank. */
  ncclTimesUs: z.array(Ms).max(100_000).optional(),
});

export const Result = z.strictObject({ type: z.literal('result'), index: Int.min(0), result: RankResultSchema });
/** A worker's answer to a `task` (`gpubench fleet`: a node's matmul, a pair's link). */
export const TaskResult = z.strictObject({ type: z.literal('task-result'), index: Int.min(0), result: FleetTaskResult });
export const Fault = z.strictObject({ type: z.literal('fault'), index: Int.min(0).optional(), message: z.string().max(10_000) });

/** Anything a worker may send. */
export const WorkerMessage = z.discriminatedUnion('type', [Hello, Ready, Heartbeat, Progress, Result, TaskResult, Fault]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;

export const CallSchema = z.strictObject({
  kind: z.enum(COLLECTIVES),
  dtype: z.enum(COLLECTIVE_DTYPES),
  op: z.enum(REDUCE_OPS),
  algorithm: z.string().max(60),
  count: Int.min(0),
  inPlace: z.boolean(),
  root: Int.min(0).optional(),
  chunkBytes: Int.min(1).optional(),
  cpuBound: z.boolean().optional(),
});

export const MeasureSchema = z.strictObject({
  warmupMs: Ms,
  warmupIterations: Int.min(0),
  maxWarmupMs: Ms.optional(),
  minTimeMs: Ms,
  minSamples: Int.min(1),
  maxSamples: Int.min(1),
  minSampleMs: Ms,
  maxTimeMs: Ms,
  checkIters: Int.min(1).optional(),
  ncclIters: Int.min(1).optional(),
  ncclWarmupIters: Int.min(0).optional(),
  /** The run's interleaved rounds; each round reaches the workers as a case of its own. */
  repetitions: Int.min(1).optional(),
});

export const Welcome = z.strictObject({
  type: z.literal('welcome'),
  runId: z.string(),
  /** This worker's (first) rank; a worker of `ranks` ranks runs rank … rank + ranks − 1. */
  rank: Int.min(0),
  /** Ranks in the world (GPUs, with `--gpus-per-process`), not processes. */
  size: Int.min(1),
  peers: z.array(z.strictObject({ rank: Int.min(0), host: z.string(), port: Int })),
  heartbeatMs: Ms,
  /** A worker that hears nothing from the coordinator (not even a ping) this long is cut off. */
  heartbeatTimeoutMs: Ms.optional(),
});
/** Cases of the backends that run on every worker: `ws` (the default) and `nccl` (one GPU per worker). */
export const RANK_BACKENDS = ['ws', 'nccl'] as const;
export const CaseMessage = z.strictObject({
  type: z.literal('case'),
  index: Int.min(0),
  id: z.string(),
  backend: z.enum(RANK_BACKENDS).optional(),
  call: CallSchema,
  seed: Int,
  measure: MeasureSchema,
});
/** A task that is not a collective case (`gpubench fleet`); only the ranks with a part in it are sent it. */
export const TaskMessage = z.strictObject({ type: z.literal('task'), index: Int.min(0), task: FleetTask });
export const Done = z.strictObject({ type: z.literal('done') });
/** The run is over for this worker; `exitCode` 2 says it was refused for its configuration. */
export const Abort = z.strictObject({ type: z.literal('abort'), reason: z.string(), exitCode: Int.optional() });

/** Anything the coordinator may send. */
export const CoordinatorMessage = z.discriminatedUnion('type', [Welcome, CaseMessage, TaskMessage, Done, Abort]);
export type CoordinatorMessage = z.infer<typeof CoordinatorMessage>;

/** Parses one frame against a schema; the error says what was wrong, briefly. */
export function parseFrame<T>(schema: z.ZodType<T>, data: Buffer | string, isBinary: boolean): { ok: true; msg: T } | { ok: false; error: string } {
  if (isBinary) return { ok: false, error: 'binary frame on the control plane' };
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, error: `bad message: ${i.path.join('.') || '(root)'}: ${i.message}` };
  }
  return { ok: true, msg: r.data };
}
