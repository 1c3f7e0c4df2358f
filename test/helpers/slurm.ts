/**
 * A real single-node Slurm cluster on this machine, for the tests: munged, slurmctld and
 * slurmd (Debian 12's slurm-wlm 22.05 + munge) started by hand as root, with their own munge
 * key and socket, a generated slurm.conf, state, spool and logs all in one temp dir, and free
 * ports; client commands find it through `SLURM_CONF`. Nothing outside the temp dir is touched,
 * so it runs beside a system Slurm or another test's cluster. Only loopback is used: the node's
 * address is 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCommand, type CommandResult } from './command.js';
import { freePort } from './free-port.js';
import { skipReason, which } from './launcher-skip.js';

const DAEMONS = ['munged', 'slurmctld', 'slurmd'] as const;
const CLIENTS = ['sbatch', 'srun', 'sinfo', 'squeue', 'scancel', 'scontrol'] as const;

/**
 * Why the Slurm tests cannot run here (not root, or slurm-wlm/munge/openssl missing), with the
 * fix; undefined when they can, or when `GPUBENCH_REQUIRE_CLUSTER=1` makes them run and fail.
 */
export function slurmMissing(): string | undefined {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`Slurm daemons need Linux, not ${process.platform}`);
  else {
    if (process.getuid?.() !== 0) problems.push('starting munged, slurmctld and slurmd needs root');
    const missing = [...DAEMONS, ...CLIENTS, 'openssl'].filter((c) => !which(c));
    if (missing.length) problems.push(`not installed: ${missing.join(', ')}`);
  }
  return skipReason('the Slurm tests', problems, 'run as root after `scripts/install-system-deps.sh` (apt-get install slurm-wlm munge openssl)');
}

/** A running cluster; `stop()` ends every daemon it started and removes its directory. */
export interface SlurmCluster {
  /** This process's environment without any SLURM_* of an enclosing job, plus SLURM_CONF. */
  env: NodeJS.ProcessEnv;
  /** The first node's name (by default the only one: this host's short name where it resolves to loopback, else localhost). */
  node: string;
  /** Every node's name. */
  nodes: string[];
  /** CPUs each node advertises (more than the machine has: tasks share cores). */
  cpus: number;
  /** The cluster's temp dir (slurm.conf, state, spool, logs). */
  dir: string;
  /** Runs a client command (sbatch, srun, ...) against this cluster. */
  run(cmd: string, args: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<CommandResult>;
  /** The daemons' logs, last lines of each, for failure messages. */
  logs(lines?: number): string;
  /** Cancels every job, stops slurmd, slurmctld and munged by PID, removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/** One slurmd: its node name, address, and what to run it under (e.g. `ip netns exec NS`). */
export interface SlurmNode {
  name: string;
  addr: string;
  /** Command words put before slurmd's own. @default [] */
  prefix?: string[];
}

export interface SlurmOptions {
  /** CPUs each node claims (`SlurmdParameters=config_overrides` lets it exceed the hardware). @default 8 */
  cpus?: number;
  /** How long to wait for every node to be idle. @default 30000 */
  readyTimeoutMs?: number;
  /** The nodes. @default one: this host (see `SlurmCluster.node`) at 127.0.0.1 */
  nodes?: SlurmNode[];
  /** slurmctld's address, and what to run it and every client command under. @default 127.0.0.1, [] */
  controller?: { addr: string; prefix?: string[] };
}

const isLoopback = (a: string) => (isIP(a) === 4 ? a.startsWith('127.') : a === '::1');

/** This host's short name when every address it resolves to is loopback (so jobs' traffic stays there), else localhost. */
async function loopbackNodeName(): Promise<string> {
  const short = hostname().split('.')[0]!;
  try {
    const addrs = await lookup(short, { all: true });
    if (addrs.length > 0 && addrs.every((a) => isLoopback(a.address))) return short;
  } catch {
    // does not resolve
  }
  return 'localhost';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends SIGTERM, then SIGKILL after `graceMs`, and resolves once the process has exited. */
async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/**
 * Starts munged, slurmctld and slurmd (root only) and waits until `sinfo` shows the node idle.
 * Throws, with the daemons' logs, when it does not come up within `readyTimeoutMs`; whatever
 * it started is stopped first.
 */
export async function startSlurm(opts: SlurmOptions = {}): Promise<SlurmCluster> {
  const cpus = opts.cpus ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'gpubench-slurm-'));
  // munged wants its socket's path searchable by all (clients of any user); the key stays private.
  chmodSync(dir, 0o711);
  for (const d of ['munge-key', 'state', 'spool', 'log']) mkdirSync(join(dir, d), { mode: 0o700 });
  mkdirSync(join(dir, 'munge'), { mode: 0o755 });
  const nodes = opts.nodes ?? [{ name: await loopbackNodeName(), addr: '127.0.0.1' }];
  for (const n of nodes) mkdirSync(join(dir, 'spool', n.name), { mode: 0o700 });
  const ctl = { addr: opts.controller?.addr ?? '127.0.0.1', prefix: opts.controller?.prefix ?? [] };
  const names = nodes.map((n) => n.name);
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const sock = join(dir, 'munge', 'munge.sock');
  // A private key: munged checks it is the daemon user's (root's) and not readable by others.
  writeFileSync(join(dir, 'munge-key', 'munge.key'), randomBytes(1024), { mode: 0o600 });
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      `ClusterName=gpubench${process.pid}`,
      // slurmctld only runs where its host name is the one named here.
      `SlurmctldHost=${hostname().split('.')[0]}(${ctl.addr})`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${sock}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool', '%n')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'spool', '%n', 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd-%n.log')}`,
      // No cgroups (none to delegate in a container, none needed): processes tracked by /proc.
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'SchedulerType=sched/builtin',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      // The node claims more CPUs than the machine has, so 4 tasks fit on 2 cores.
      'SlurmdParameters=config_overrides',
      'ReturnToService=2',
      'MpiDefault=none',
      'MailProg=/bin/true',
      'SwitchType=switch/none',
      'InactiveLimit=0',
      'KillWait=5',
      // sbatch --wait sleeps 2 s, then 4x longer while under MinJobAge / 2: with MinJobAge=30 it
      // polls at 2, 10, 42 s; with 4, every 2 s, and a finished job is still there to be seen.
      'MinJobAge=4',
      ...nodes.map((n) => `NodeName=${n.name} NodeAddr=${n.addr} NodeHostname=${n.name} CPUs=${cpus} RealMemory=1000 State=UNKNOWN`),
      `PartitionName=test Nodes=${names.join(',')} Default=YES MaxTime=10 State=UP OverSubscribe=YES`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLURM_')));
  env.SLURM_CONF = conf;

  const children: ChildProcess[] = [];
  const daemon = (name: string, args: string[], prefix: string[] = [], logName = name) => {
    const out = openSync(join(dir, 'log', `${logName}.out`), 'a');
    try {
      const argv = [...prefix, which(name) ?? name, ...args];
      const c = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', out, out] });
      c.on('error', () => undefined); // a missing binary shows as an early exit in the logs
      children.push(c);
      return c;
    } finally {
      closeSync(out);
    }
  };
  const logs = (lines = 25) =>
    ['munged.log', 'munged.out', 'slurmctld.out', 'slurmctld.log', ...names.flatMap((n) => [`slurmd-${n}.out`, `slurmd-${n}.log`])]
      .map((f) => {
        try {
          return `--- ${f}\n${readFileSync(join(dir, 'log', f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
        } catch {
          return `--- ${f}: none`;
        }
      })
      .join('\n');
  const run = (cmd: string, args: string[], timeoutMs = 60_000, extra: NodeJS.ProcessEnv = {}) =>
    runCommand(ctl.prefix[0] ?? cmd, [...ctl.prefix.slice(1), ...(ctl.prefix.length ? [cmd] : []), ...args], { env: { ...env, ...extra }, cwd: dir, timeoutMs });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const ctldUp = children[1] && children[1].exitCode === null;
    if (ctldUp) {
      // Jobs first, so no slurmstepd or task outlives its slurmd.
      await run('scancel', ['--partition=test'], 10_000).catch(() => undefined);
      for (let i = 0; i < 30; i++) {
        const q = await run('squeue', ['-h', '-o', '%i'], 10_000).catch(() => undefined);
        if (!q || q.code !== 0 || q.stdout.trim() === '') break;
        await sleep(500);
      }
    }
    for (const c of [...children].reverse()) await stopProcess(c);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // -F: munged stays in the foreground, so the PID we hold is the daemon's.
    daemon('munged', ['-F', `--socket=${sock}`, `--key-file=${join(dir, 'munge-key', 'munge.key')}`, `--pid-file=${join(dir, 'munge', 'munged.pid')}`,
      `--seed-file=${join(dir, 'munge-key', 'munged.seed')}`, `--log-file=${join(dir, 'log', 'munged.log')}`]);
    for (let i = 0; i < 50; i++) {
      if ((await run('munge', ['-n', '-S', sock], 5000).catch(() => undefined))?.code === 0) break;
      await sleep(100);
    }
    daemon('slurmctld', ['-D', '-f', conf], ctl.prefix);
    // -N: the node name need not be the hostname (localhost where the hostname leaves loopback).
    for (const n of nodes) daemon('slurmd', ['-D', '-f', conf, '-N', n.name], n.prefix, `slurmd-${n.name}`);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    let states = '';
    let ready = false;
    while (!ready && Date.now() < deadline) {
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead) throw new Error(`${dead.spawnargs.join(' ')} exited (${dead.exitCode ?? dead.signalCode})`);
      const s = await run('sinfo', ['-h', '-N', '-o', '%N %t'], 5000).catch(() => undefined);
      const lines = (s?.stdout ?? '').trim().split('\n');
      states = lines.join(', ');
      ready = names.every((n) => lines.includes(`${n} idle`));
      if (!ready) await sleep(250);
    }
    if (!ready) throw new Error(`nodes ${names.join(',')} not all idle after ${opts.readyTimeoutMs ?? 30_000} ms (sinfo: "${states}")`);
  } catch (e) {
    const msg = `${(e as Error).message}\n${logs()}`;
    await stop();
    throw new Error(`Slurm did not start: ${msg}`);
  }
  return { env, node: names[0]!, nodes: names, cpus, dir, run, logs, stop };
}
