/**
 * The multi-process world a run plans for: set by the coordinator (`--local-nodes N`,
 * `gpubench coordinator --world-size N`) before planning, read by the collective
 * workloads (sizes round to the rank count) and the `ws` backend (no world: skip).
 * Backends whose ranks all live in this process (`webgpu-local`: one rank per adapter)
 * declare their own rank count instead.
 */
import type { WorkerBackendProbe } from './control/protocol.js';

/** A worker process of the world as the coordinator saw it join. */
export interface WorldWorker {
  /** The ranks it runs (one, or several with `--gpus-per-process`). */
  ranks: number[];
  hostname: string;
  /** Its own probe of each backend whose cases run on every rank (`nccl`), by backend id. */
  backends?: Record<string, WorkerBackendProbe>;
}

/** Ranks and hosts of the current run. */
export interface World {
  ranks: number;
  /** Distinct hosts the ranks run on; unknown (undefined) until the workers have joined. */
  hosts?: number;
  /** The workers, once they have joined: backends plan their world cases from their probes. */
  workers?: WorldWorker[];
}

let current: World | undefined;

/** Sets (or clears) the world the next plan is made for. */
export function setWorld(w: World | undefined): void {
  current = w;
}

/** The world, if this process coordinates a multi-rank run. */
export function currentWorld(): World | undefined {
  return current;
}

const localRanks = new Map<string, number>();

/** Declares that `backend` runs its collectives on `ranks` ranks inside this process (undefined: forget). */
export function setLocalRanks(backend: string, ranks: number | undefined): void {
  if (ranks === undefined) localRanks.delete(backend);
  else localRanks.set(backend, ranks);
}

/** Ranks a case of `backend` runs on: its own in-process group, else the world, else 1. */
export function ranksFor(backend?: string): number {
  return (backend !== undefined ? localRanks.get(backend) : undefined) ?? current?.ranks ?? 1;
}

/**
 * Hosts a case of `backend` runs on: 1 for an in-process group, else the world's (0 while
 * the workers have not joined yet; the coordinator plans again once they have), else 1.
 */
export function hostsFor(backend?: string): number {
  if (backend !== undefined && localRanks.has(backend)) return 1;
  return current ? (current.hosts ?? 0) : 1;
}
