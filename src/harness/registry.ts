/**
 * The registries: backends by id (with a priority, as tfjs-core's `registerBackend`),
 * kernels by (workload, backend), workloads by id. Backends and workloads register
 * themselves on import; the harness only reads these maps.
 */
import type { Backend, KernelConfig, ProbeResult } from './backend.js';
import type { WorkloadId } from './results/schema.js';
import type { Workload } from './workload.js';

interface Entry {
  backend: Backend;
  priority: number;
  probe?: Promise<ProbeResult>;
}

const backends = new Map<string, Entry>();
const kernels = new Map<string, KernelConfig<never, never>>();
const workloads = new Map<WorkloadId, Workload<never, never>>();

const kernelKey = (workload: string, backend: string): string => `${workload}/${backend}`;

/** Registers a backend; a higher priority lists it first. Re-registering an id replaces it. */
export function registerBackend(backend: Backend, priority = 0): void {
  backends.set(backend.id, { backend, priority });
}

/** Registers the implementation of one workload on one backend. */
export function registerKernel<P, D>(config: KernelConfig<P, D>): void {
  kernels.set(kernelKey(config.workload, config.backend), config as unknown as KernelConfig<never, never>);
}

/** Registers a workload definition. */
export function registerWorkload<P, D>(w: Workload<P, D>): void {
  workloads.set(w.id, w as unknown as Workload<never, never>);
}

/** Every registered backend, highest priority first. */
export function listBackends(): Backend[] {
  return [...backends.values()].sort((a, b) => b.priority - a.priority).map((e) => e.backend);
}

/** The backend with this id, or undefined. */
export function getBackend(id: string): Backend | undefined {
  return backends.get(id)?.backend;
}

/** Probes a backend once per process; later calls share the answer. Never rejects. */
export function probeBackend(id: string): Promise<ProbeResult> {
  const e = backends.get(id);
  if (!e) return Promise.resolve({ available: false, reason: `unknown backend "${id}"` });
  e.probe ??= e.backend.probe().catch((err: unknown) => ({
    available: false as const,
    reason: `probe failed: ${err instanceof Error ? err.message : String(err)}`,
  }));
  return e.probe;
}

/**
 * Forgets a backend's cached probe, so the next `probeBackend` asks again: for a backend
 * whose answer depends on what changed since (a coordinator's workers have joined).
 */
export function forgetProbe(id: string): void {
  const e = backends.get(id);
  if (e) delete e.probe;
}

/** The kernel for (workload, backend), or undefined when the backend does not implement it. */
export function getKernel<P, D>(workload: WorkloadId, backend: string): KernelConfig<P, D> | undefined {
  return kernels.get(kernelKey(workload, backend)) as KernelConfig<P, D> | undefined;
}

/** The workload definition with this id. */
export function getWorkload<P, D>(id: WorkloadId): Workload<P, D> | undefined {
  return workloads.get(id) as Workload<P, D> | undefined;
}

/** Ids of every registered workload. */
export function listWorkloads(): WorkloadId[] {
  return [...workloads.keys()];
}

/** Disposes every backend that was probed, so devices close and the process can exit. */
export async function disposeBackends(): Promise<void> {
  for (const e of backends.values()) {
    if (e.probe) await e.backend.dispose?.();
  }
}
