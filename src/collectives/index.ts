/**
 * The collectives layer: registers the collective workloads, the `ws` backend, the
 * `webgpu-local` backend (local adapters as ranks) and the `nccl` backend (local GPUs as
 * NCCL ranks), and
 * re-exports the pieces other code builds on (transport seam, algorithms, ops).
 */
import { registerWorkload } from '../harness/registry.js';
import { COLLECTIVES } from './collective.js';
import { collectiveWorkload } from './workload.js';
import './backend.js';
import './webgpu/backend.js';
import './nccl/backend.js';

for (const kind of COLLECTIVES) registerWorkload(collectiveWorkload(kind));

export * from './transport.js';
export * from './collective.js';
export { inProcessGroup } from './inprocess.js';
export { REDUCE_OPS, type ReduceOp } from './ops.js';
export { COLLECTIVE_DTYPES, type CollectiveDtype } from './dtypes.js';
export { runRankCase, type RankCaseResult } from './rank-case.js';
