/** The environment fingerprint written into every results file. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, hostname, release, totalmem, type } from 'node:os';
import type { Environment } from './results/schema.js';
import { PACKAGE_ROOT } from './version.js';
import { hostTopology, type HostTopologyOptions } from './topology/host.js';

/** Packages whose versions matter to the numbers. */
const TRACKED = [
  'webgpu',
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-node',
  'ws',
];

/** Version of an installed package, or undefined when it is not installed. */
export function installedVersion(name: string): string | undefined {
  const require = createRequire(`${PACKAGE_ROOT}/package.json`);
  try {
    const pkgJson = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * Host, OS, CPU, memory, Node and package versions and the topology of this machine
 * (`dataHost`: a worker's data address, naming the interface that carries its links).
 */
export function fingerprint(o: Pick<HostTopologyOptions, 'dataHost'> = {}): Environment {
  const packages: Record<string, string> = {};
  const self = installedVersion('gpubench') ?? (JSON.parse(readFileSync(`${PACKAGE_ROOT}/package.json`, 'utf8')) as { version: string }).version;
  packages.gpubench = self;
  for (const name of TRACKED) {
    const v = installedVersion(name);
    if (v) packages[name] = v;
  }
  const c = cpus();
  return {
    hostname: hostname(),
    os: `${type()} ${release()}`,
    arch: arch(),
    cpu: c[0]?.model.trim() ?? 'unknown',
    cpuCount: c.length,
    memoryBytes: totalmem(),
    node: process.version,
    packages,
    topology: hostTopology(o),
    nodes: [],
  };
}
