/**
 * A small real cluster on one machine, made of Linux network namespaces: K "nodes",
 * each a namespace with its own loopback, one veth into a private switch namespace that
 * holds a bridge, an address in a /24 that exists only inside these namespaces, and a
 * hostname of its own (each process runs in a fresh UTS namespace). Traffic between
 * nodes crosses real TCP/IP stacks and a real bridge, so a `tbf` qdisc on a switch port
 * limits the rate into a node and taking the port down is a real partition.
 *
 * The bridge and the switch-side veth ends live in their own namespace, not the host's:
 * the host's interfaces, routes and firewall are never touched, and deleting the
 * namespaces removes everything. Names carry this process's pid, so leftovers of a
 * killed run never clash with a new one (and are swept by the next run).
 *
 * Needs root, iproute2 (`ip`, `tc` with the tbf qdisc) and util-linux `unshare`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Tests that need a cluster fail instead of skipping when this is set (CI sets it). */
export const REQUIRE_CLUSTER = process.env.GPUBENCH_REQUIRE_CLUSTER === '1';

/** One node of the cluster. */
export interface NetnsNode {
  /** Network namespace name (`ip netns exec <ns> …`). */
  ns: string;
  /** Its IPv4 address on the cluster's /24. */
  ip: string;
  /** The hostname its processes see. */
  hostname: string;
  /** The switch-side end of its veth, in the switch namespace: what `limit` shapes and `cut` takes down. */
  hostVeth: string;
}

/** How to build a cluster. */
export interface ClusterOptions {
  /** Third octet of the private 10.231.X.0/24. @default a per-cluster counter */
  subnet?: number;
  /** Hostname prefix: node i is `${hostPrefix}${i}`. @default "node" */
  hostPrefix?: string;
}

/** How to shape a node's link. */
export interface LimitOptions {
  /**
   * Bucket size in bytes: what may pass at full speed after an idle moment. Small, so the
   * short pauses between a collective's steps do not save up free bytes (tbf splits GSO
   * packets larger than the bucket into frames). @default 8192
   */
  burstBytes?: number;
  /** Longest a packet may queue before tbf drops it. @default 100 */
  latencyMs?: number;
  /** Also shape what the node sends (a tbf on its own end of the veth). @default false */
  egress?: boolean;
}

/** A running cluster. */
export interface NetnsCluster {
  nodes: NetnsNode[];
  /** The switch namespace holding the bridge `br0` and every `hostVeth`. */
  switchNs: string;
  /** The cluster's network, e.g. 10.231.3.0/24. */
  subnet: string;
  /**
   * Starts `argv` on node `i` (its namespace, its hostname), stdout and stderr piped.
   * The returned process is the program itself (ip netns exec, unshare and sh all exec),
   * so its pid is the one to kill. `env` is added to this process's environment.
   */
  exec(i: number, argv: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** Limits the rate INTO node i to `rateMbit` Mbit/s (tbf on its switch port); see LimitOptions. */
  limit(i: number, rateMbit: number, opts?: LimitOptions): void;
  /** Partitions node i: its switch port goes down, so nothing reaches it and nothing it sends leaves. */
  cut(i: number): void;
  /** Kills every process started on the cluster (SIGKILL by pid, bounded wait) and deletes the namespaces. */
  destroy(): Promise<void>;
}

const IP_TIMEOUT_MS = 10_000;
let clusters = 0;

/** Runs a command to completion (bounded); throws with its stderr when it fails. */
function sh(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a command, ignoring failure (cleanup paths). */
function trySh(argv: string[]): void {
  spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: IP_TIMEOUT_MS });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const NAME = /^gbn(\d+)-/; // gbn<pid>-<cluster>-<node>, gbn<pid>-probe-sw

/** Deletes namespaces left by earlier runs whose process is gone (a killed test run). */
export function sweepStale(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.split(' ')[0]!;
    const m = NAME.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) trySh(['ip', 'netns', 'del', name]);
  }
}

/**
 * Why a cluster cannot be built here (with the fix), or undefined when it can. Probes
 * for real: creates and deletes a namespace with a veth and a tbf qdisc. With
 * GPUBENCH_REQUIRE_CLUSTER=1 it returns undefined regardless, so the tests run and fail
 * loudly instead of skipping.
 */
export function netnsMissing(): string | undefined {
  const reason = probe();
  if (reason === undefined || REQUIRE_CLUSTER) return undefined;
  console.warn(`skipping network-namespace cluster tests: ${reason}`);
  return reason;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: creating network namespaces needs root (run the tests as root, e.g. in the CI container)';
  for (const [cmd, pkg] of [['ip', 'iproute2'], ['tc', 'iproute2'], ['unshare', 'util-linux']] as const) {
    const r = spawnSync(cmd, ['-V'], { stdio: 'ignore', timeout: IP_TIMEOUT_MS });
    if (r.error) return `\`${cmd}\` not found: apt-get install ${pkg}`;
  }
  const ns = `gbn${process.pid}-probe-sw`;
  try {
    sh(['ip', 'netns', 'add', ns]);
    sh(['ip', '-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    sh(['ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['tc', '-n', ns, 'qdisc', 'add', 'dev', 'p0', 'root', 'tbf', 'rate', '100mbit', 'burst', '64kb', 'latency', '100ms']);
    sh(['ip', 'netns', 'exec', ns, 'unshare', '--uts', 'true']);
    return undefined;
  } catch (err) {
    return `\`ip netns\` unusable (${(err as Error).message}); needs root with CAP_SYS_ADMIN/CAP_NET_ADMIN and the veth, bridge and sch_tbf kernel modules (e.g. a privileged container)`;
  } finally {
    trySh(['ip', 'netns', 'del', ns]);
  }
}

/**
 * Builds a cluster of `k` nodes on a bridge. Every step is bounded (each `ip` call has a
 * timeout); on a failure half-way, what was made is removed before the error propagates.
 * Call `destroy()` in an afterAll (a process-exit hook also removes the namespaces).
 */
export function makeCluster(k: number, opts: ClusterOptions = {}): NetnsCluster {
  sweepStale();
  const seq = clusters++;
  const octet = opts.subnet ?? (seq % 256);
  const base = `gbn${process.pid}-${seq}`;
  const switchNs = `${base}-sw`;
  const nodes: NetnsNode[] = Array.from({ length: k }, (_, i) => ({
    ns: `${base}-n${i}`,
    ip: `10.231.${octet}.${10 + i}`,
    hostname: `${opts.hostPrefix ?? 'node'}${i}`,
    hostVeth: `v${i}`,
  }));
  const children = new Set<ChildProcess>();
  const namespaces = [switchNs, ...nodes.map((n) => n.ns)];

  /** Last resort if the test process exits without destroy(): synchronous, by pid. */
  const onExit = () => {
    for (const ch of children) if (ch.pid && ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    for (const ns of namespaces) trySh(['ip', 'netns', 'del', ns]);
  };
  process.once('exit', onExit);

  const build = () => {
    sh(['ip', 'netns', 'add', switchNs]);
    sh(['ip', '-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', switchNs, 'link', 'set', 'br0', 'up']);
    for (const n of nodes) {
      sh(['ip', 'netns', 'add', n.ns]);
      sh(['ip', '-n', switchNs, 'link', 'add', n.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns]);
      sh(['ip', '-n', switchNs, 'link', 'set', n.hostVeth, 'master', 'br0']);
      sh(['ip', '-n', switchNs, 'link', 'set', n.hostVeth, 'up']);
      sh(['ip', '-n', n.ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', n.ns, 'addr', 'add', `${n.ip}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', n.ns, 'link', 'set', 'eth0', 'up']);
    }
  };

  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    const running = [...children].filter((ch) => ch.exitCode === null && ch.signalCode === null);
    await Promise.all(running.map((ch) => new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 3000); // a process stuck in D state must not hang the suite
      ch.once('exit', () => { clearTimeout(t); resolve(); });
      ch.kill('SIGKILL');
    })));
    for (const ns of namespaces) trySh(['ip', 'netns', 'del', ns]);
    process.removeListener('exit', onExit);
  };

  try {
    build();
  } catch (err) {
    onExit();
    process.removeListener('exit', onExit);
    throw err;
  }

  const tbf = (ns: string, dev: string, rateMbit: number, o: LimitOptions) =>
    sh(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateMbit}mbit`,
      'burst', String(o.burstBytes ?? 8192), 'latency', `${o.latencyMs ?? 100}ms`]);

  return {
    nodes,
    switchNs,
    subnet: `10.231.${octet}.0/24`,
    exec(i, argv, env = {}) {
      const n = nodes[i]!;
      // ip netns exec, unshare (no --fork) and `exec` in sh replace themselves: the pid is the program's.
      const child = spawn('ip', ['netns', 'exec', n.ns, 'unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', n.hostname, ...argv], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      return child;
    },
    limit(i, rateMbit, o = {}) {
      tbf(switchNs, nodes[i]!.hostVeth, rateMbit, o);
      if (o.egress) tbf(nodes[i]!.ns, 'eth0', rateMbit, o);
    },
    cut(i) {
      sh(['ip', '-n', switchNs, 'link', 'set', nodes[i]!.hostVeth, 'down']);
    },
    destroy,
  };
}
