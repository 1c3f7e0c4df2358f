/**
 * gpubench's programmatic API: the registries a plugin backend registers with, the seams'
 * types, and the results contract.
 */
export { registerBackend, registerKernel, registerWorkload, listBackends, getBackend, getKernel, probeBackend } from './harness/registry.js';
export type { Backend, KernelConfig, PreparedCase, ProbeResult } from './harness/backend.js';
export type { Workload, CliOverrides, PeakInfo } from './harness/workload.js';
export type { Reporter } from './harness/reporter.js';
export * from './harness/results/schema.js';
export { UsageError, RuntimeFault, ExitCode } from './harness/errors.js';
export { summarize } from './harness/stats.js';
export { measure, DEFAULT_MEASURE, type MeasureOptions } from './harness/measure.js';
export type { MatmulParams, MatmulData } from './kernels/matmul/workload.js';
export type { MemcpyParams, MemcpyData } from './kernels/memcpy/workload.js';
export * from './harness/topology/schema.js';
export { hostTopology, registerGpuTopologySource, type GpuTopologySource } from './harness/topology/host.js';
export { applyLink, memoryCeiling, pcieCeiling, nvlinkCeiling, gpuGroupCeiling, networkCeiling } from './harness/topology/links.js';
export { topologySummary } from './harness/topology/summary.js';
