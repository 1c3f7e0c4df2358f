/**
 * A 3-node Slurm cluster on one machine, each node a network namespace of its own with its
 * own address and host name: slurmctld in a controller namespace holding a bridge, one
 * slurmd per node namespace (also in a UTS namespace named after the node) on a veth to that
 * bridge. Every address lives inside namespaces made here (10.77.0.0/24), so nothing reaches
 * the host's network. Each slurmd enters its network namespace with `nsenter` (not `ip netns
 * exec`, whose fresh /sys hides the cgroup mounts slurmd 22.05 insists on) plus a private
 * mount and UTS namespace, where a hosts file naming the nodes is bound over /etc/hosts.
 * `stop()` ends the daemons and deletes the namespaces (and with them the bridge and veths).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './command.js';
import { skipReason, which } from './launcher-skip.js';
import { slurmMissing, startSlurm, type SlurmCluster } from './slurm.js';

const SUBNET = '10.77.0';

/** Why the namespaced cluster cannot run here (on top of `slurmMissing()`), with the fix. */
export function netnsSlurmMissing(): string | undefined {
  const base = slurmMissing();
  if (base) return base;
  const missing = ['ip', 'nsenter', 'unshare'].filter((c) => !which(c));
  return skipReason('the namespaced Slurm test', missing.length ? [`not installed: ${missing.join(', ')}`] : [], 'apt-get install iproute2 util-linux');
}

/** The cluster plus where each node lives. */
export interface NetnsSlurmCluster extends SlurmCluster {
  /** Node name → its address. */
  addrs: Map<string, string>;
}

const ip = async (...args: string[]) => {
  const r = await runCommand('ip', args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
};

/**
 * Builds the namespaces and starts the cluster on them (`count` nodes, named gbn0...).
 * `ownNameOnLoopback`: each node's hosts file names the node itself on 127.0.1.1 first, as
 * Debian's installer does.
 */
export async function startNetnsSlurm(count = 3, cpus = 4, opts: { ownNameOnLoopback?: boolean } = {}): Promise<NetnsSlurmCluster> {
  const tag = `gbs${process.pid % 100000}`;
  const ctl = `${tag}-ctl`;
  const nodes = Array.from({ length: count }, (_, i) => ({ name: `gbn${i}`, ns: `${tag}-n${i}`, addr: `${SUBNET}.${11 + i}` }));
  const all = [ctl, ...nodes.map((n) => n.ns)];
  const dir = mkdtempSync(join(tmpdir(), 'gpubench-slurm-hosts-'));
  const hostsFile = (name: string) => join(dir, `hosts-${name}`);
  const teardown = async () => {
    for (const ns of all) await runCommand('ip', ['netns', 'del', ns], { timeoutMs: 10_000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  let cluster: SlurmCluster | undefined;
  try {
    // As Debian's installer writes it, a node's own name may come first, on 127.0.1.1.
    for (const n of nodes) {
      const own = opts.ownNameOnLoopback ? [`127.0.1.1 ${n.name}`] : [];
      writeFileSync(hostsFile(n.name), ['127.0.0.1 localhost', ...own, ...nodes.map((m) => `${m.addr} ${m.name}`), ''].join('\n'));
    }
    for (const ns of all) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('-n', ctl, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', ctl, 'addr', 'add', `${SUBNET}.1/24`, 'dev', 'br0');
    await ip('-n', ctl, 'link', 'set', 'br0', 'up');
    for (const [i, n] of nodes.entries()) {
      const [a, b] = [`${tag}v${i}`, `${tag}p${i}`];
      await ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
      await ip('link', 'set', a, 'netns', n.ns);
      await ip('link', 'set', b, 'netns', ctl);
      await ip('-n', n.ns, 'link', 'set', a, 'name', 'eth0');
      await ip('-n', n.ns, 'addr', 'add', `${n.addr}/24`, 'dev', 'eth0');
      await ip('-n', n.ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ctl, 'link', 'set', b, 'master', 'br0', 'up');
    }
    cluster = await startSlurm({
      cpus,
      controller: { addr: `${SUBNET}.1`, prefix: ['nsenter', `--net=/run/netns/${ctl}`] },
      // Each slurmd, and so every task it starts, has its node's name as host name and the
      // nodes' hosts file; every step execs, so the PID held is slurmd's.
      nodes: nodes.map((n) => ({
        name: n.name,
        addr: n.addr,
        prefix: ['nsenter', `--net=/run/netns/${n.ns}`, 'unshare', '--mount', '--uts', 'sh', '-c', 'mount --bind "$1" /etc/hosts && hostname "$0" && shift && exec "$@"', n.name, hostsFile(n.name)],
      })),
    });
  } catch (e) {
    await teardown();
    throw e;
  }
  const c = cluster;
  return {
    ...c,
    addrs: new Map(nodes.map((n) => [n.name, n.addr])),
    stop: async () => {
      await c.stop();
      await teardown();
    },
  };
}

