/**
 * The built-in backends and workloads. Each backend folder registers itself on import;
 * a new backend is a new folder and one line here.
 */
import { registerWorkload } from '../harness/registry.js';
import { matmulWorkload } from './matmul/workload.js';
import { memcpyWorkload } from './memcpy/workload.js';
import './webgpu/index.js';
import './tfjs-webgpu/index.js';
import './tfjs-node/index.js';
import './tfjs-cpu/index.js';
import './cuda/index.js';

registerWorkload(matmulWorkload);
registerWorkload(memcpyWorkload);
