/**
 * The shipped Kubernetes recipe (examples/kubernetes/gpubench.yaml), parsed, and the exact
 * environment and argv a pod of its worker Job gets, for tests that cannot run a cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './cli.js';

export const MANIFEST = join(ROOT, 'examples/kubernetes/gpubench.yaml');

/** One `env` entry of a container, as Kubernetes takes it. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  restartPolicy?: string;
  enableServiceLinks?: boolean;
  containers: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}

/** The fields of the manifest's objects the tests read (Service, Job, NetworkPolicy, …). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    // Service
    clusterIP?: string;
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number }[];
    // Job
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    backoffLimit?: number;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    // NetworkPolicy
    podSelector?: { matchLabels?: Record<string, string> };
    ingress?: { from?: { podSelector?: { matchLabels?: Record<string, string> } }[]; ports?: { protocol?: string; port: number; endPort?: number }[] }[];
  };
}

/** Every object of the manifest; throws on a YAML error, naming it. */
export function readManifest(path = MANIFEST): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${path}: not a YAML stream`);
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
  if (errors.length > 0) throw new Error(`${path}: ${errors.join('; ')}`);
  return docs.map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

/** The one object of `kind` named `name`. */
export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in the manifest`);
  return o;
}

/** What a pod's `valueFrom` resolves to on a cluster: the pod's IP, and the Secret's data. */
export interface PodFacts {
  podIP: string;
  secrets: Record<string, Record<string, string>>;
}

/**
 * The environment the container gets from its `env` entries (values, downward API,
 * Secrets), as the kubelet resolves them. Throws on a source it does not know, so a new
 * kind of entry in the manifest makes the test say so.
 */
export function containerEnv(c: Container, facts: PodFacts): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env[e.name] = facts.podIP;
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const v = facts.secrets[name]?.[key];
      if (v === undefined) throw new Error(`env ${e.name}: no key ${key} in Secret ${name}`);
      env[e.name] = v;
    } else throw new Error(`env ${e.name}: source ${JSON.stringify(e.valueFrom)} not handled by this test`);
  }
  return env;
}

/** `$(NAME)` in command and args expanded from the container's env, as Kubernetes does. */
export const expandArgs = (args: string[], env: Record<string, string>): string[] =>
  args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m));

/** The value after `flag` in an argv, or undefined. */
export function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** A copy of argv with the value after `flag` replaced. */
export function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  if (i < 0) throw new Error(`${flag} not in ${args.join(' ')}`);
  return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}
