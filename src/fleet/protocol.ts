/**
 * The fleet's tasks on the control plane: what the coordinator asks of a worker besides
 * collective cases, and what the worker answers. Checked on arrival like every frame
 * (src/collectives/control/protocol.ts embeds these schemas in its `task` and
 * `task-result` messages).
 */
import { z } from 'zod';
import { Telemetry } from '../harness/results/schema.js';

const Int = z.number().int();
const Ms = z.number().finite().nonnegative();
const Samples = z.array(z.number().finite().nonnegative()).max(100_000);

/**
 * Every node alone, at the same time, in lockstep, one workload at a time (the matmul, then
 * the device copy): `prepare` loads the backend, sets the case up, checks it against the
 * reference, warms it up and times a few calls (the per-call estimate); each `sample` then
 * runs calls on every rank at once for the same `durationMs`, so every rank's sample sees
 * the same moment (a machine-wide disturbance hits all alike) and lasts as long whatever
 * the load (a slow rank makes fewer calls).
 */
export const NodeCaseTask = z.strictObject({
  kind: z.literal('node-case'),
  workload: z.enum(['matmul', 'memcpy']),
  step: z.enum(['prepare', 'sample']),
  /** A backend id, or `auto`: the worker's best for the workload (see `pickBackend`). */
  backend: z.string().max(60),
  /** matmul: square size m = n = k; memcpy: bytes; 0: by backend and device (`caseSizeFor`). */
  size: Int.min(0).max(2 ** 34),
  dtype: z.string().max(20).optional(),
  warmupMs: Ms,
  /** `sample`: how long to keep calling (at least one call). */
  durationMs: Ms.max(600_000).optional(),
});

/** One round of the pair schedule: each rank in a pair measures its link, the others sit out. */
export const PairsTask = z.strictObject({
  kind: z.literal('pairs'),
  /** Flat [a0, b0, a1, b1, …], a < b. */
  pairs: z.array(Int.min(0)).max(2 * 65536),
  /** Bytes each way per bandwidth sample. */
  bytes: Int.min(1).max(1 << 30),
  /** Bandwidth and latency samples per pair (after two untimed exchanges). */
  samples: Int.min(1).max(10_000),
  pingSamples: Int.min(1).max(100_000),
});

/**
 * Ring all-reduces over disjoint groups of ranks, every group at the same time (the whole
 * group, a bisection level, or k-batches): each group is a communicator of its own over
 * the data links the workers already have, checked against the reference, then timed.
 */
export const GroupAllReduceTask = z.strictObject({
  kind: z.literal('group-allreduce'),
  /** Disjoint groups of ranks (each at least 2), in ring order. */
  groups: z.array(z.array(Int.min(0)).min(2).max(65536)).max(32768),
  bytes: Int.min(4).max(1 << 30),
  /** Timed samples per group (exactly this many: groups of a level are compared sample for sample). */
  samples: Int.min(1).max(1000),
  warmupMs: Ms,
  /** Each sample lasts at least this long (iterations calibrated to it). */
  sampleMs: Ms,
  seed: Int,
  /** Reduce on the host CPU with several ranks per core (the coordinator knows). */
  cpuBound: z.boolean().optional(),
});

export const FleetTask = z.discriminatedUnion('kind', [NodeCaseTask, PairsTask, GroupAllReduceTask]);
export type FleetTask = z.infer<typeof FleetTask>;

export const NodeCaseResult = z.strictObject({
  kind: z.literal('node-case'),
  workload: z.enum(['matmul', 'memcpy']),
  backend: z.string().max(60),
  device: z.string().max(255),
  size: Int,
  dtype: z.string().max(20),
  /** `prepare`: ms per call after the warm-up; `sample`: ms per call of this sample. */
  perCallMs: z.number().finite().nonnegative().nullable(),
  /** `sample`: the device's telemetry over the timed calls so far (warm-up and samples), where the backend reads it. */
  telemetry: Telemetry.optional(),
  /** `sample`: why there is no telemetry (the backend reads none; NVML absent…). */
  noTelemetry: z.string().max(1000).optional(),
  /** No backend here can run the workload (not a fault of the node: e.g. no device for memcpy). */
  unavailable: z.string().max(10_000).optional(),
  error: z.string().max(10_000).optional(),
});
export type NodeCaseResult = z.infer<typeof NodeCaseResult>;

export const PairsResult = z.strictObject({
  kind: z.literal('pairs'),
  /** The peer of this rank in the round (none: a bye). */
  peer: Int.min(0).optional(),
  /** Initiator (lower rank) only: bandwidth per sample, MB/s (both directions' bytes over the round trip). */
  bandwidthMBps: Samples.optional(),
  /** Initiator only: one-way latency per sample, µs (half a ping-pong of 8 bytes). */
  latencyUs: Samples.optional(),
  error: z.string().max(10_000).optional(),
});
export type PairsResult = z.infer<typeof PairsResult>;

export const GroupAllReduceResult = z.strictObject({
  kind: z.literal('group-allreduce'),
  /** Index of this rank's group in the task (none: not in a group). */
  group: Int.min(0).optional(),
  /** The group's first rank only: ms per all-reduce of each sample, the slowest rank's. */
  samplesMs: Samples.optional(),
  /** Whether this rank's result matched the reference. */
  passed: z.boolean().optional(),
  error: z.string().max(10_000).optional(),
});
export type GroupAllReduceResult = z.infer<typeof GroupAllReduceResult>;

export const FleetTaskResult = z.discriminatedUnion('kind', [NodeCaseResult, PairsResult, GroupAllReduceResult]);
export type FleetTaskResult = z.infer<typeof FleetTaskResult>;
