/**
 * What a results file ran on, per backend: the GPU model, the driver, the versions of the
 * stack that produced the numbers (Dawn's `webgpu` package, tfjs, `ws`, Node for the
 * JavaScript stacks, every `*Version` an implementation records such as NCCL's) and the
 * device count. `compare` refuses (exit 2) to call a difference in any of these a
 * regression: the numbers measure another machine.
 */
import type { ResultsFile } from '../../harness/results/schema.js';

/** Packages whose versions are part of a backend's stack (the harness's own version is not: that is what is under test). */
const BACKEND_PACKAGES: Record<string, string[]> = {
  webgpu: ['webgpu'],
  'webgpu-local': ['webgpu'],
  'tfjs-webgpu': ['webgpu', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'],
  'tfjs-cpu': ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu'],
  'tfjs-node': ['@tensorflow/tfjs-core', '@tensorflow/tfjs-node'],
  'tfjs-node-gpu': ['@tensorflow/tfjs-core', '@tensorflow/tfjs-node-gpu'],
  ws: ['ws'],
};

/** Backends whose hot path is JavaScript: V8's version changes their speed. */
const JS_BACKENDS = new Set(['ws', 'tfjs-cpu']);

const joined = (xs: Iterable<string | undefined>): string | undefined => {
  const set = [...new Set([...xs].filter((x): x is string => typeof x === 'string' && x !== ''))].sort();
  return set.length ? set.join(', ') : undefined;
};

/**
 * The facts of `backends` in a results file, as `label → value` (a fact the file does not
 * record is absent, and is then not compared: older files lack some).
 */
export function stackFacts(f: ResultsFile, backends: Iterable<string>): Map<string, string> {
  const facts = new Map<string, string>();
  const put = (k: string, v: string | undefined) => {
    if (v !== undefined) facts.set(k, v);
  };
  for (const b of backends) {
    const devs = f.devices.filter((d) => d.backend === b);
    put(`${b} GPU/device`, joined(devs.map((d) => d.name)));
    put(`${b} driver`, joined(devs.map((d) => d.driver)));
    if (devs.length > 0) put(`${b} device count`, String(devs.length));
    for (const p of BACKEND_PACKAGES[b] ?? []) put(`${b} stack: ${p}`, f.environment.packages[p]);
    if (JS_BACKENDS.has(b)) put(`${b} stack: node`, f.environment.node);
    // Versions an implementation records per case (NCCL's, cuBLAS's…).
    const versions = new Map<string, Set<string>>();
    for (const c of f.cases) {
      if (c.backend !== b) continue;
      for (const [k, v] of Object.entries(c.impl?.config ?? {})) {
        if (/version$/i.test(k) && (typeof v === 'string' || typeof v === 'number')) {
          if (!versions.has(k)) versions.set(k, new Set());
          versions.get(k)!.add(String(v));
        }
      }
    }
    for (const [k, vs] of versions) put(`${b} stack: ${k}`, joined(vs));
  }
  return facts;
}

/** One fact that differs between a baseline and HEAD. */
export interface FactDifference {
  fact: string;
  base: string;
  head: string;
}

/** Facts both files record and that differ, for the backends of the cases they share. */
export function differingFacts(base: ResultsFile, head: ResultsFile, backends: Iterable<string>): FactDifference[] {
  const list = [...backends];
  const a = stackFacts(base, list);
  const b = stackFacts(head, list);
  const out: FactDifference[] = [];
  for (const [fact, v] of a) {
    const w = b.get(fact);
    if (w !== undefined && w !== v) out.push({ fact, base: v, head: w });
  }
  return out;
}
