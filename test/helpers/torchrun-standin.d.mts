/** Types for torchrun-standin.mjs (a plain script, so examples/torchrun.sh can run it with node). */

/** What one `torchrun` command line says, plus which of its workers this is. */
export interface TorchrunWorker {
  nnodes: number;
  nprocPerNode: number;
  nodeRank: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  /** The environment torchrun itself runs in (inherited by the worker). */
  agentEnv: NodeJS.ProcessEnv;
  /** torchrun's log directory (TORCHELASTIC_ERROR_FILE lies under it). */
  logDir: string;
  /** --max-restarts (default 0). */
  maxRestarts?: number;
}

/** The exact environment of one worker process started by torchrun (torch 2.x). */
export function torchrunWorkerEnv(w: TorchrunWorker): NodeJS.ProcessEnv;
