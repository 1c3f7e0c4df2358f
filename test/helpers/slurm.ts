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
  /** The one node's name (this host's short name where it resolves to loopback, else localhost). */
  node: string;
  /** CPUs the node advertises (more than the machine has: tasks share cores). */
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

export interface SlurmOptions {
  /** CPUs the node claims (`SlurmdParameters=config_overrides` lets it exceed the hardware). @default 8 */
  cpus?: number;
  /** How long to wait for the node to be idle. @default 30000 */
  readyTimeoutMs?: number;
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
  const node = await loopbackNodeName();
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const sock = join(dir, 'munge', 'munge.sock');
  // A private key: munged checks it is the daemon user's (root's) and not readable by others.
  writeFileSync(join(dir, 'munge-key', 'munge.key'), randomBytes(1024), { mode: 0o600 });
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      `ClusterName=gpubench${process.pid}`,
      `SlurmctldHost=${node}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${sock}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
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
      'MinJobAge=30',
      `NodeName=${node} NodeAddr=127.0.0.1 NodeHostname=${node} CPUs=${cpus} RealMemory=1000 State=UNKNOWN`,
      `PartitionName=test Nodes=${node} Default=YES MaxTime=10 State=UP OverSubscribe=YES`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLURM_')));
  env.SLURM_CONF = conf;

  const children: ChildProcess[] = [];
  const daemon = (name: string, args: string[]) => {
    const out = openSync(join(dir, 'log', `${name}.out`), 'a');
    try {
      const c = spawn(which(name) ?? name, args, { env, stdio: ['ignore', out, out] });
      c.on('error', () => undefined); // a missing binary shows as an early exit in the logs
      children.push(c);
      return c;
    } finally {
      closeSync(out);
    }
  };
  const logs = (lines = 25) =>
    ['munged.log', 'munged.out', 'slurmctld.out', 'slurmd.out', 'slurmctld.log', 'slurmd.log']
      .map((f) => {
        try {
          return `--- ${f}\n${readFileSync(join(dir, 'log', f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
        } catch {
          return `--- ${f}: none`;
        }
      })
      .join('\n');
  const run = (cmd: string, args: string[], timeoutMs = 60_000, extra: NodeJS.ProcessEnv = {}) =>
    runCommand(cmd, args, { env: { ...env, ...extra }, cwd: dir, timeoutMs });

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
    daemon('slurmctld', ['-D', '-f', conf]);
    // -N: the node name need not be the hostname (localhost where the hostname leaves loopback).
    daemon('slurmd', ['-D', '-f', conf, '-N', node]);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    let state = '';
    while (Date.now() < deadline) {
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead) throw new Error(`${dead.spawnargs[0]} exited (${dead.exitCode ?? dead.signalCode})`);
      const s = await run('sinfo', ['-h', '-n', node, '-o', '%t'], 5000).catch(() => undefined);
      state = s?.stdout.trim() ?? '';
      if (state === 'idle') break;
      await sleep(250);
    }
    if (state !== 'idle') throw new Error(`node ${node} not idle after ${opts.readyTimeoutMs ?? 30_000} ms (sinfo: "${state}")`);
  } catch (e) {
    const msg = `${(e as Error).message}\n${logs()}`;
    await stop();
    throw new Error(`Slurm did not start: ${msg}`);
  }
  return { env, node, cpus, dir, run, logs, stop };
}
