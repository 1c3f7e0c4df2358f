/** Registers the matmul workload (imported first by `kernels/index.ts`, so it lists first). */
import { registerWorkload } from '../../harness/registry.js';
import { matmulWorkload } from './workload.js';

registerWorkload(matmulWorkload);
