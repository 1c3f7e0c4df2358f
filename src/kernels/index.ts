/**
 * The built-in backends and workloads. Each backend folder registers itself on import;
 * a new backend is a new folder and one line here.
 */
import './matmul/index.js';
import './memcpy/index.js';
import './acceptance/index.js';
import './webgpu/index.js';
import './tfjs-webgpu/index.js';
import './tfjs-node/index.js';
import './tfjs-cpu/index.js';
import './cuda/index.js';
// The collectives layer registers its workloads and the `ws` backend the same way.
import '../collectives/index.js';
