#!/usr/bin/env node
/**
 * torchrun's contract with the processes it starts, for tests on a machine without PyTorch:
 * `torchrunWorkerEnv` is the exact environment torch.distributed.run (torch 2.x) gives each
 * worker, and run as a program this file stands in for `torchrun` itself in
 * examples/torchrun.sh (TORCHRUN="node test/helpers/torchrun-standin.mjs").
 *
 * From the torch sources: `LocalElasticAgent._start_workers`
 * (torch/distributed/elastic/agent/server/local_elastic_agent.py) sets RANK, GROUP_RANK,
 * ROLE_RANK, ROLE_NAME, LOCAL_WORLD_SIZE, WORLD_SIZE, GROUP_WORLD_SIZE, ROLE_WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_MAX_RESTARTS,
 * TORCHELASTIC_RUN_ID, TORCHELASTIC_USE_AGENT_STORE, TORCH_NCCL_ASYNC_ERROR_HANDLING (the
 * agent's own value, else "1") and LOCAL_RANK, and passes on OMP_NUM_THREADS and
 * CUDA_VISIBLE_DEVICES where the agent has them; `config_from_args` (torch/distributed/run.py)
 * sets OMP_NUM_THREADS=1 in the agent when it is unset and --nproc-per-node > 1; the default
 * log specs add TORCHELASTIC_ERROR_FILE. Each worker also inherits the agent's environment.
 * With --master-addr/--master-port the rendezvous is "static": run id "none" (the default
 * --rdzv-id), MASTER_PORT = --master-port, on which node 0's agent runs the TCP store that
 * every agent joins before starting its workers, and the workers use the agent's store
 * (TORCHELASTIC_USE_AGENT_STORE=True). With --no-python the command runs as given.
 *
 * The stand-in does what the workers can observe: holds MASTER_PORT on node 0, makes the other
 * nodes wait for it (bounded), starts NPROC_PER_NODE workers with that environment, and exits
 * 0 when all exit 0, else 1 (as torchrun's ChildFailedError).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The exact environment of one worker process started by torchrun.
 * @param {{ nnodes: number, nprocPerNode: number, nodeRank: number, localRank: number,
 *   masterAddr: string, masterPort: number, agentEnv: NodeJS.ProcessEnv, logDir: string,
 *   maxRestarts?: number }} w
 * @returns {NodeJS.ProcessEnv}
 */
export function torchrunWorkerEnv(w) {
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

/** Resolves once host:port accepts a connection; rejects after `ms`. */
async function waitForStore(host, port, ms) {
  const until = Date.now() + ms;
  for (let i = 0; Date.now() < until && i < 10_000; i++) {
    const ok = await new Promise((resolve) => {
      const s = createConnection({ host, port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`torchrun stand-in: no store at ${host}:${port} after ${ms} ms`);
}

async function main(argv) {
  const opts = {};
  let i = 0;
  for (; i < argv.length && argv[i] !== '--no-python'; i++) {
    const m = /^--([a-z-]+)=(.*)$/.exec(argv[i]);
    if (!m) throw new Error(`torchrun stand-in: unexpected argument ${argv[i]} (give --opt=value, then --no-python CMD)`);
    opts[m[1]] = m[2];
  }
  const [cmd, ...args] = argv.slice(i + 1);
  if (!cmd) throw new Error('torchrun stand-in: no --no-python command');
  const nnodes = Number(opts.nnodes), nprocPerNode = Number(opts['nproc-per-node']), nodeRank = Number(opts['node-rank'] ?? 0);
  const masterAddr = opts['master-addr'] ?? '127.0.0.1', masterPort = Number(opts['master-port'] ?? 29500);
  let store;
  if (nodeRank === 0) {
    // The static rendezvous' TCP store: accepts and holds connections (it speaks its own protocol).
    const held = new Set();
    store = createServer((s) => { held.add(s); s.on('error', () => undefined); s.on('close', () => held.delete(s)); });
    await new Promise((resolve, reject) => { store.once('error', reject); store.listen(masterPort, masterAddr, resolve); });
    store.held = held;
  } else await waitForStore(masterAddr, masterPort, 60_000);
  const base = mkdtempSync(join(tmpdir(), 'torchelastic_'));
  const logDir = join(base, 'none_standin');
  const children = Array.from({ length: nprocPerNode }, (_, localRank) =>
    spawn(cmd, args, { stdio: 'inherit', env: torchrunWorkerEnv({ nnodes, nprocPerNode, nodeRank, localRank, masterAddr, masterPort, agentEnv: process.env, logDir }) }));
  const stop = () => { for (const c of children) c.kill('SIGTERM'); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const codes = await Promise.all(children.map((c) => new Promise((resolve) => c.on('exit', (code) => resolve(code ?? 1)))));
  if (store) {
    for (const s of store.held) s.destroy();
    store.close();
  }
  rmSync(base, { recursive: true, force: true });
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exitCode = 1;
  });
}
