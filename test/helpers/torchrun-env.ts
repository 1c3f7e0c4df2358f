/**
 * The environment torchrun (torch.distributed.run, torch 2.x) gives each worker process it
 * starts, variable for variable, for tests that cannot run torchrun itself.
 *
 * From the torch sources: `LocalElasticAgent._start_workers`
 * (torch/distributed/elastic/agent/server/local_elastic_agent.py) sets RANK, GROUP_RANK,
 * ROLE_RANK, ROLE_NAME, LOCAL_WORLD_SIZE, WORLD_SIZE, GROUP_WORLD_SIZE, ROLE_WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_MAX_RESTARTS,
 * TORCHELASTIC_RUN_ID, TORCHELASTIC_USE_AGENT_STORE, TORCH_NCCL_ASYNC_ERROR_HANDLING (the
 * agent's own value, else "1"), LOCAL_RANK, and passes OMP_NUM_THREADS and
 * CUDA_VISIBLE_DEVICES on where the agent has them; `config_from_args` (torch/distributed/run.py)
 * sets OMP_NUM_THREADS=1 in the agent when it is unset and --nproc-per-node > 1; the log specs
 * add TORCHELASTIC_ERROR_FILE. The worker also inherits the agent's whole environment.
 * With --master-addr/--master-port the rendezvous is "static": run id "none" (the default
 * --rdzv-id), MASTER_PORT = --master-port, whose TCP store the agent of node 0 listens on,
 * and the workers use the agent's store (TORCHELASTIC_USE_AGENT_STORE=True).
 */
import { join } from 'node:path';

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

/** The exact environment of one worker process started by torchrun. */
export function torchrunWorkerEnv(w: TorchrunWorker): NodeJS.ProcessEnv {
  const worldSize = w.nnodes * w.nprocPerNode;
  const rank = w.nodeRank * w.nprocPerNode + w.localRank;
  const agent = { ...w.agentEnv };
  if (agent.OMP_NUM_THREADS === undefined && w.nprocPerNode > 1) agent.OMP_NUM_THREADS = '1';
  return {
    ...agent,
    RANK: String(rank),
    GROUP_RANK: String(w.nodeRank),
    ROLE_RANK: String(rank),
    ROLE_NAME: 'default',
    LOCAL_WORLD_SIZE: String(w.nprocPerNode),
    WORLD_SIZE: String(worldSize),
    GROUP_WORLD_SIZE: String(w.nnodes),
    ROLE_WORLD_SIZE: String(worldSize),
    MASTER_ADDR: w.masterAddr,
    MASTER_PORT: String(w.masterPort),
    TORCHELASTIC_RESTART_COUNT: '0',
    TORCHELASTIC_MAX_RESTARTS: String(w.maxRestarts ?? 0),
    TORCHELASTIC_RUN_ID: 'none',
    TORCHELASTIC_USE_AGENT_STORE: 'True',
    TORCH_NCCL_ASYNC_ERROR_HANDLING: agent.TORCH_NCCL_ASYNC_ERROR_HANDLING ?? '1',
    LOCAL_RANK: String(w.localRank),
    TORCHELASTIC_ERROR_FILE: join(w.logDir, 'attempt_0', String(w.localRank), 'error.json'),
  };
}
