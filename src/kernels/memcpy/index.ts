/** Registers the memcpy workload (device-to-device copy bandwidth, the roofline's memory ceiling). */
import { registerWorkload } from '../../harness/registry.js';
import { memcpyWorkload } from './workload.js';

registerWorkload(memcpyWorkload);
