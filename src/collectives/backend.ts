/**
 * The `ws` backend: collectives between processes (and hosts) over WebSockets on TCP.
 * Always available; its cases need a world of ranks, which `--local-nodes N` or
 * `gpubench coordinator` provides — without one they are planned as skipped, saying so.
 */
import type { Backend } from '../harness/backend.js';
import { registerBackend, registerKernel } from '../harness/registry.js';
import { installedVersion } from '../harness/environment.js';
import { COLLECTIVES } from './collective.js';
import { collectiveSupport, type CollectiveData, type CollectiveParams } from './workload.js';
import { currentWorld } from './world.js';

export const wsBackend: Backend = {
  id: 'ws',
  title: 'collectives over WebSockets (TCP) between worker processes and hosts',
  probe: () =>
    Promise.resolve({
      available: true as const,
      devices: [{ backend: 'ws', id: 'tcp', name: 'WebSocket over TCP', driver: `ws ${installedVersion('ws') ?? '?'}`, software: true }],
    }),
};

registerBackend(wsBackend, -10);
for (const workload of COLLECTIVES)
  registerKernel<CollectiveParams, CollectiveData>({
    workload,
    backend: 'ws',
    supports: (p) =>
      currentWorld()
        ? collectiveSupport(p)
        : 'collectives need several ranks: run with --local-nodes N, or gpubench coordinator with workers (this machine\'s WebGPU adapters as ranks: --backends webgpu-local)',
    setup: () => Promise.reject(new Error(`${workload} runs on every rank through the control plane, not in one process`)),
  });
