/**
 * The multi-process world a run plans for: set by the coordinator (`--local-nodes N`,
 * `gpubench coordinator --world-size N`) before planning, read by the collective
 * workloads (sizes round to the rank count) and the `ws` backend (no world: skip).
 */

/** Ranks and hosts of the current run. */
export interface World {
  ranks: number;
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
