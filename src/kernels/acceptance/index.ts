/** Registers the node-acceptance workloads: hostcopy, peercopy, launch and burn. */
import { registerWorkload } from '../../harness/registry.js';
import { burnWorkload } from './burn.js';
import { hostCopyWorkload } from './hostcopy.js';
import { launchWorkload } from './launch.js';
import { peerCopyWorkload } from './peercopy.js';

registerWorkload(hostCopyWorkload);
registerWorkload(peerCopyWorkload);
registerWorkload(launchWorkload);
registerWorkload(burnWorkload);
