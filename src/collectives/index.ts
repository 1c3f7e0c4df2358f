/**
 * The collectives layer: registers the collective workloads and the `ws` backend, and
 * re-exports the pieces other code builds on (transport seam, algorithms, ops).
 */
import { registerWorkload } from '../harness/registry.js';
import { COLLECTIVES } from './collective.js';
import { collectiveWorkload } from './workload.js';
import './backend.js';

for (const kind of COLLECTIVES) registerWorkload(collectiveWorkload(kind));

export * from './transport.js';
export * from './collective.js';
export { inProcessGroup } from './inprocess.js';
export { REDUCE_OPS, type ReduceOp } from './ops.js';
export { COLLECTIVE_DTYPES, type CollectiveDtype } from './dtypes.js';
export { runRankCase, type RankCaseResult } from './rank-case.js';
