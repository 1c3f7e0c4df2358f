/**
 * The fleet's tasks on the control plane: what the coordinator asks of a worker besides
 * collective cases, and what the worker answers. Checked on arrival like every frame
 * (src/collectives/control/protocol.ts embeds these schemas in its `task` and
 * `task-result` messages).
 */
import { z } from 'zod';

const Int = z.number().int();
const Ms = z.number().finite().nonnegative();
const Samples = z.array(z.number().finite().nonnegative()).max(100_000);

/**
 * Every node alone, at the same time, in lockstep: `prepare` loads the backend, sets the
 * case up, checks it against the reference, warms it up and times a few calls (the
 * per-call estimate); each `sample` then runs calls on every rank at once for the same
 * `durationMs`, so every rank's sample sees the same moment (a machine-wide disturbance
 * hits all alike) and lasts as long whatever the load (a slow rank makes fewer calls).
 */
export const NodeMatmulTask = z.strictObject({
  kind: z.literal('node-matmul'),
  step: z.enum(['prepare', 'sample']),
  /** A backend id, or `auto`: the worker's best (see `MATMUL_PREFERENCE`). */
  backend: z.string().max(60),
  /** Square size m = n = k; 0: the size for the backend (`matmulSizeFor`). */
  size: Int.min(0).max(65536),
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

export const FleetTask = z.discriminatedUnion('kind', [NodeMatmulTask, PairsTask]);
export type FleetTask = z.infer<typeof FleetTask>;

export const NodeMatmulResult = z.strictObject({
  kind: z.literal('node-matmul'),
  backend: z.string().max(60),
  device: z.string().max(255),
  size: Int,
  dtype: z.string().max(20),
  /** `prepare`: ms per call after the warm-up; `sample`: ms per call of this sample. */
  perCallMs: z.number().finite().nonnegative().nullable(),
  error: z.string().max(10_000).optional(),
});
export type NodeMatmulResult = z.infer<typeof NodeMatmulResult>;

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

export const FleetTaskResult = z.discriminatedUnion('kind', [NodeMatmulResult, PairsResult]);
export type FleetTaskResult = z.infer<typeof FleetTaskResult>;
