/**
 * The torchrun and Kubernetes recipes (examples/torchrun.sh, examples/kubernetes/) with real
 * gpubench processes on 127.0.0.1. Neither torchrun nor a cluster runs here, so each worker
 * gets exactly the environment the launcher gives it: torchrun's variables as the torch 2.x
 * elastic agent sets them (helpers/torchrun-standin.mjs), and a pod's env as the shipped manifest
 * declares it, read from the file so the test breaks when the manifest drifts. Every process
 * is bounded in time and killed by PID afterwards; only 127.0.0.1 is used (the recipes bind
 * 0.0.0.0 for other nodes; here the coordinator binds loopback, still with a token).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { ResultsFile } from '../src/harness/results/schema.js';
import { detectLaunch } from '../src/collectives/control/launchers.js';
import { CLI, ROOT } from './helpers/cli.js';
import { baseEnv, startCliExactEnv, type CliProcess } from './helpers/exact-env-cli.js';
import { closeServer, freePortRange, holdPortWithFreeNext, listenLoopback } from './helpers/loopback-ports.js';
import { freePort } from './helpers/free-port.js';
import { torchrunWorkerEnv } from './helpers/torchrun-standin.mjs';
import { containerEnv, expandArgs, find, flagValue, readManifest, withFlag } from './helpers/k8s-manifest.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-launch-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
/** A short all-reduce sweep: enough to prove the world formed and ran, in seconds. */
const SWEEP = ['--workloads', 'allreduce', '-b', '8', '-e', '64K', '-f', '8', '--min-time', '20', '--warmup', '5', '--reporter', 'silent'];
const TOKEN = 'launch-test-token-5f0c2e9a7d41';

let processes: CliProcess[] = [];
let servers: (Server | undefined)[] = [];
/** Recipe scripts, each the leader of its own process group (its coordinator, torchrun, workers). */
let scripts: ChildProcess[] = [];
afterEach(async () => {
  for (const p of processes) p.stop();
  for (const c of scripts) {
    try {
      process.kill(-c.pid!, 'SIGKILL'); // the whole group: a coordinator may outlive its script
    } catch {
      // the group is gone already
    }
  }
  scripts = [];
  await Promise.all(processes.map((p) => p.exited));
  await Promise.all(servers.map(closeServer));
  processes = [];
  servers = [];
});
const track = (p: CliProcess): CliProcess => {
  processes.push(p);
  return p;
};

/** The coordinator as the torchrun recipe starts it on node 0 (token from the environment). */
function coordinator(worldSize: number, port: number, json: string, extra: string[] = []): CliProcess {
  return track(startCliExactEnv(['coordinator', '--world-size', String(worldSize), '--host', '127.0.0.1', '--port', String(port), '--json', json, ...SWEEP, ...extra], { ...baseEnv(), GPUBENCH_TOKEN: TOKEN }));
}

/** Every case ok, the run complete, and the token nowhere in what was written. */
function expectCompleteRun(dir: string, json: string) {
  const res = readResults(json);
  expect(res.run.status).toBe('complete');
  expect(res.cases.length).toBeGreaterThan(0);
  for (const c of res.cases) expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
  for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), 'utf8'), f).not.toContain(TOKEN);
  return res;
}

describe('torchrun (examples/torchrun.sh)', () => {
  it('3 workers with torchrun\'s variables, started in reverse rank order, find the coordinator on MASTER_PORT + 1', async () => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    // torchrun's static rendezvous store holds MASTER_PORT on node 0: stand in for it.
    const store = await holdPortWithFreeNext();
    servers.push(store.server);
    const coord = coordinator(3, store.port + 1, json);
    await coord.waitFor(/listening on ws:\/\/127\.0\.0\.1:\d+/);
    // torchrun --nnodes=1 --nproc-per-node=3 --master-addr=127.0.0.1 --master-port=P --no-python gpubench worker
    const agentEnv = { ...baseEnv(), GPUBENCH_TOKEN: TOKEN };
    const logDir = join(dir, 'torchelastic', 'none_x1');
    const workers: { rank: number; env: NodeJS.ProcessEnv; p: CliProcess }[] = [];
    for (const localRank of [2, 1, 0]) {
      const env = torchrunWorkerEnv({ nnodes: 1, nprocPerNode: 3, nodeRank: 0, localRank, masterAddr: '127.0.0.1', masterPort: store.port, agentEnv, logDir });
      workers.push({ rank: localRank, env, p: track(startCliExactEnv(['worker'], env)) });
      // Each joins before the next starts: arrival order is the reverse of RANK.
      await coord.waitFor(new RegExp(`joined \\(${workers.length}/3\\)`));
    }
    // The exact set of variables: the test's own stand-in must not drift from torchrun's.
    expect(Object.keys(workers[0]!.env).filter((k) => !(k in agentEnv)).sort()).toEqual([
      'GROUP_RANK', 'GROUP_WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'OMP_NUM_THREADS',
      'RANK', 'ROLE_NAME', 'ROLE_RANK', 'ROLE_WORLD_SIZE', 'TORCHELASTIC_ERROR_FILE', 'TORCHELASTIC_MAX_RESTARTS',
      'TORCHELASTIC_RESTART_COUNT', 'TORCHELASTIC_RUN_ID', 'TORCHELASTIC_USE_AGENT_STORE', 'TORCH_NCCL_ASYNC_ERROR_HANDLING', 'WORLD_SIZE',
    ]);
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const w of workers) expect(await w.p.exited, w.p.stderr()).toBe(0);
    const res = expectCompleteRun(dir, json);
    const nodes = [...res.environment.nodes].sort((a, b) => Number(a.rank) - Number(b.rank));
    expect(nodes.map((n) => [n.rank, n.launcher, n.pid])).toEqual(
      [...workers].sort((a, b) => a.rank - b.rank).map((w) => [Number(w.env.RANK), 'torchrun', w.p.child.pid]),
    );
    for (const c of res.cases) expect(c.params.ranks).toBe(3);
  });

  it('GPUBENCH_COORDINATOR_PORT overrides MASTER_PORT + 1 (2 nodes x 1 process)', async () => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    // MASTER_PORT and MASTER_PORT + 1 both held by something else: only the override can work.
    const store = await holdPortWithFreeNext((s) => s.destroy());
    const beside = await listenLoopback(store.port + 1, (s) => s.destroy());
    servers.push(store.server, beside);
    expect(beside, `127.0.0.1:${store.port + 1} was taken`).toBeDefined();
    const port = await freePort();
    const coord = coordinator(2, port, json);
    await coord.waitFor(/listening on ws:\/\/127\.0\.0\.1:\d+/);
    // The recipe exports GPUBENCH_COORDINATOR_PORT, so torchrun's agents pass it on to the workers.
    const agentEnv = { ...baseEnv(), GPUBENCH_TOKEN: TOKEN, GPUBENCH_COORDINATOR_PORT: String(port) };
    const workers = [1, 0].map((nodeRank) => {
      const env = torchrunWorkerEnv({ nnodes: 2, nprocPerNode: 1, nodeRank, localRank: 0, masterAddr: '127.0.0.1', masterPort: store.port, agentEnv, logDir: join(dir, `node${nodeRank}`) });
      return { rank: nodeRank, env, p: track(startCliExactEnv(['worker'], env)) };
    });
    expect(workers[0]!.env).toMatchObject({ RANK: '1', GROUP_RANK: '1', LOCAL_RANK: '0', GROUP_WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '1' });
    expect(workers[0]!.env.OMP_NUM_THREADS).toBeUndefined(); // torchrun sets it only for --nproc-per-node > 1
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const w of workers) expect(await w.p.exited, w.p.stderr()).toBe(0);
    const res = expectCompleteRun(dir, json);
    expect([...res.environment.nodes].sort((a, b) => Number(a.rank) - Number(b.rank)).map((n) => [n.rank, n.launcher])).toEqual([[0, 'torchrun'], [1, 'torchrun']]);
  });

  it('a launcher world size that disagrees with --world-size: exit 2 naming both numbers', async () => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    const store = await holdPortWithFreeNext();
    servers.push(store.server);
    const coord = coordinator(3, store.port + 1, json);
    await coord.waitFor(/listening on ws:\/\/127\.0\.0\.1:\d+/);
    // torchrun --nproc-per-node=4, coordinator --world-size 3; rank 3 never starts here.
    const agentEnv = { ...baseEnv(), GPUBENCH_TOKEN: TOKEN };
    const workers = [0, 1, 2].map((localRank) =>
      track(startCliExactEnv(['worker', '--connect-timeout', '5000'], torchrunWorkerEnv({ nnodes: 1, nprocPerNode: 4, nodeRank: 0, localRank, masterAddr: '127.0.0.1', masterPort: store.port, agentEnv, logDir: join(dir, 'logs') }), 30_000)),
    );
    expect(await coord.exited, coord.stderr()).toBe(2);
    expect(coord.stderr()).toMatch(/\b4\b/);
    expect(coord.stderr()).toMatch(/\b3\b/);
    expect(coord.stderr()).toMatch(/world.size/i);
    for (const w of workers) expect([2, 3], w.stderr()).toContain(await w.exited);
    expect(readResults(json).run).toMatchObject({ status: 'failed', fault: expect.stringMatching(/\b4\b[^]*\b3\b|\b3\b[^]*\b4\b/) });
  });

  it('examples/torchrun.sh, unchanged, on 2 nodes x 2 processes: node 0 runs the coordinator on MASTER_PORT + 1 and exits with its code', async () => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    const store = await holdPortWithFreeNext();
    const masterPort = store.port;
    await closeServer(store.server); // the stand-in's node 0 binds it, as torchrun's store does
    const script = join(ROOT, 'examples/torchrun.sh');
    const node = (nodeRank: number) => {
      const env = {
        ...baseEnv(),
        NNODES: '2', NPROC_PER_NODE: '2', NODE_RANK: String(nodeRank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(masterPort),
        GPUBENCH_TOKEN: TOKEN,
        GPUBENCH: `${process.execPath} ${CLI}`,
        TORCHRUN: `${process.execPath} ${join(ROOT, 'test/helpers/torchrun-standin.mjs')}`,
        GPUBENCH_ARGS: SWEEP.join(' '),
        GPUBENCH_RESULTS: json,
        GPUBENCH_COORDINATOR_BIND: '127.0.0.1', // loopback only in tests; the recipe's default is 0.0.0.0
      };
      const child = spawn('bash', [script], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 90_000);
      const exited = new Promise<number>((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve(code ?? -1); }));
      scripts.push(child);
      return { exited, stderr: () => stderr };
    };
    // Node 1 first: its agent waits for node 0's store, as torchrun's static rendezvous does.
    const n1 = node(1);
    const n0 = node(0);
    expect(await n0.exited, n0.stderr()).toBe(0);
    expect(await n1.exited, n1.stderr()).toBe(0);
    expect(n0.stderr()).toContain(`coordinator 127.0.0.1:${masterPort + 1}`);
    expect(n0.stderr()).toMatch(/coordinator exit 0, torchrun exit 0/);
    const res = expectCompleteRun(dir, json);
    expect([...res.environment.nodes].sort((a, b) => Number(a.rank) - Number(b.rank)).map((n) => [n.rank, n.launcher, n.localRank])).toEqual([
      [0, 'torchrun', 0], [1, 'torchrun', 1], [2, 'torchrun', 0], [3, 'torchrun', 1],
    ]);
    for (const c of res.cases) expect(c.params.ranks).toBe(4);
  });

  it('the recipe says which setting is missing, and never puts the token in argv', () => {
    const script = join(ROOT, 'examples/torchrun.sh');
    const run = (env: NodeJS.ProcessEnv) => spawnSync('bash', [script], { env: { ...baseEnv(), ...env }, encoding: 'utf8', timeout: 10_000 });
    const missing = run({ NNODES: '2', NPROC_PER_NODE: '8', NODE_RANK: '1', MASTER_ADDR: 'node0' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/GPUBENCH_TOKEN/);
    expect(run({}).stderr).toMatch(/NNODES/);
    expect(readFileSync(script, 'utf8')).not.toMatch(/--token/);
  });
});

describe('Kubernetes (examples/kubernetes/gpubench.yaml)', () => {
  const objects = readManifest();
  const service = find(objects, 'Service', 'gpubench-coordinator');
  const coordJob = find(objects, 'Job', 'gpubench-coordinator');
  const workerJob = find(objects, 'Job', 'gpubench-workers');
  const coordPod = coordJob.spec.template!.spec;
  const workerPod = workerJob.spec.template!.spec;
  const coordC = coordPod.containers[0]!;
  const workerC = workerPod.containers[0]!;
  const secretRef = workerC.env!.find((e) => e.name === 'GPUBENCH_TOKEN')!.valueFrom!.secretKeyRef!;
  const facts = (podIP: string) => ({ podIP, secrets: { [secretRef.name]: { [secretRef.key]: TOKEN } } });

  it('parses, and its parts agree: world size, Service, ports, Secret, Indexed completion', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Job/gpubench-coordinator', 'Job/gpubench-workers', 'NetworkPolicy/gpubench-coordinator', 'NetworkPolicy/gpubench-workers',
      'PersistentVolumeClaim/gpubench-results', 'Service/gpubench-coordinator',
    ]);
    // Indexed: Kubernetes sets JOB_COMPLETION_INDEX itself; every rank runs at once.
    expect(workerJob.spec.completionMode).toBe('Indexed');
    const env = containerEnv(workerC, facts('10.0.0.7'));
    const size = Number(env.GPUBENCH_WORLD_SIZE);
    expect(workerJob.spec.completions).toBe(size);
    expect(workerJob.spec.parallelism).toBe(size);
    expect(Number(flagValue(coordC.args!, '--world-size'))).toBe(size);
    expect(workerC.env!.map((e) => e.name)).not.toContain('JOB_COMPLETION_INDEX');
    // A failed rank cannot rejoin a running collective; neither can a restarted coordinator.
    for (const job of [coordJob, workerJob]) {
      expect(job.spec.backoffLimit).toBe(0);
      expect(job.spec.template!.spec.restartPolicy).toBe('Never');
      // No Docker-link variables (a ClusterIP Service named gpubench-coordinator would inject GPUBENCH_COORDINATOR_PORT=tcp://…).
      expect(job.spec.template!.spec.enableServiceLinks).toBe(false);
    }
    // The headless Service selects the coordinator pod and names the port it listens on.
    expect(service.spec.clusterIP).toBe('None');
    expect(coordJob.spec.template!.metadata!.labels).toMatchObject(service.spec.selector!);
    expect(workerJob.spec.template!.metadata!.labels).not.toMatchObject(service.spec.selector!);
    const url = new URL(env.GPUBENCH_COORDINATOR!);
    expect(url.protocol).toBe('ws:');
    expect(url.hostname).toBe(service.metadata.name);
    const port = service.spec.ports![0]!;
    expect(Number(url.port)).toBe(port.port);
    expect(Number(flagValue(coordC.args!, '--port'))).toBe(port.targetPort ?? port.port);
    expect(flagValue(coordC.args!, '--host')).toBe('0.0.0.0');
    // One Secret for both sides, created as the README says; never a token in argv.
    expect(coordC.env!.find((e) => e.name === 'GPUBENCH_TOKEN')!.valueFrom!.secretKeyRef).toEqual(secretRef);
    const readme = readFileSync(join(ROOT, 'examples/kubernetes/README.md'), 'utf8');
    expect(readme).toContain(`kubectl create secret generic ${secretRef.name} --from-literal=${secretRef.key}=`);
    for (const c of [coordC, workerC]) expect(c.args!).not.toContain('--token');
    // The worker announces its pod IP from the downward API.
    expect(workerC.env!.find((e) => e.name === 'POD_IP')!.valueFrom!.fieldRef!.fieldPath).toBe('status.podIP');
    expect(flagValue(workerC.args!, '--data-host')).toBe('$(POD_IP)');
    // The NetworkPolicies open exactly the control port and the --data-ports range.
    const [first, last] = flagValue(workerC.args!, '--data-ports')!.split('-').map(Number);
    const np = find(objects, 'NetworkPolicy', 'gpubench-workers').spec.ingress![0]!.ports![0]!;
    expect([np.port, np.endPort]).toEqual([first, last]);
    expect(find(objects, 'NetworkPolicy', 'gpubench-coordinator').spec.ingress![0]!.ports![0]!.port).toBe(port.port);
    // The results land on the volume.
    expect(flagValue(coordC.args!, '--json')!.startsWith(coordC.volumeMounts![0]!.mountPath + '/')).toBe(true);
  });

  it('every variable the worker pod sets is one gpubench reads (or the args use), and detectLaunch sees the pod', () => {
    const env = containerEnv(workerC, facts('10.0.0.7'));
    const args = (workerC.args ?? []).join(' ');
    const src = ['src/collectives/control/launchers.ts', 'src/harness/cli/commands/worker.ts'].map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    for (const name of Object.keys(env)) expect(args.includes(`$(${name})`) || src.includes(name), `${name} is set but nothing reads it`).toBe(true);
    expect(detectLaunch({ ...env, JOB_COMPLETION_INDEX: '3' })).toMatchObject({ launcher: 'kubernetes', rank: 3, size: Number(env.GPUBENCH_WORLD_SIZE), coordinator: env.GPUBENCH_COORDINATOR });
  });

  it('pods of the Indexed Job, started before the coordinator, run with ranks = JOB_COMPLETION_INDEX', async () => {
    const dir = tmp();
    const json = join(dir, 'results.json');
    const size = Number(flagValue(coordC.args!, '--world-size'));
    const port = await freePort();
    // Stands in for cluster DNS: gpubench-coordinator resolves to the coordinator pod, here 127.0.0.1.
    const atCoordinator = (url: string) => Object.assign(new URL(url), { hostname: '127.0.0.1', port: String(port) }).href.replace(/\/$/, '');
    // Each pod has its own IP, so one range serves all; here they share 127.0.0.1 and need `size` free ports.
    const [first, last] = flagValue(workerC.args!, '--data-ports')!.split('-').map(Number) as [number, number];
    const range = await freePortRange(Math.max(size, last - first + 1));
    const pods = Array.from({ length: size }, (_, index) => {
      const fromManifest = containerEnv(workerC, facts('127.0.0.1'));
      const env = {
        ...baseEnv(),
        // What Kubernetes adds to every container of an Indexed Job's pod.
        HOSTNAME: `gpubench-workers-${index}-x7k2q`,
        JOB_COMPLETION_INDEX: String(index),
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        KUBERNETES_SERVICE_PORT: '443',
        KUBERNETES_PORT: 'tcp://10.96.0.1:443',
        ...fromManifest,
        GPUBENCH_COORDINATOR: atCoordinator(fromManifest.GPUBENCH_COORDINATOR!),
      };
      const args = withFlag(expandArgs(workerC.args!, env), '--data-ports', `${range.first}-${range.last}`);
      expect(workerC.command).toEqual(['gpubench']);
      expect(args).toContain('127.0.0.1'); // --data-host $(POD_IP)
      return { index, p: track(startCliExactEnv(args, env)) };
    });
    // Pods come up in any order: the coordinator's starts last, after the workers began retrying.
    await new Promise((r) => setTimeout(r, 1500));
    for (const { p } of pods) expect(p.child.exitCode, p.stderr()).toBeNull();
    const coordEnv = { ...baseEnv(), HOSTNAME: 'gpubench-coordinator-9zq4d', ...containerEnv(coordC, facts('127.0.0.1')) };
    let coordArgs = withFlag(withFlag(withFlag(coordC.args!, '--host', '127.0.0.1'), '--port', String(port)), '--json', json);
    coordArgs = coordArgs.filter((a, i) => a !== '--suite' && coordArgs[i - 1] !== '--suite');
    const coord = track(startCliExactEnv([...coordArgs, ...SWEEP], coordEnv));
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const { p } of pods) expect(await p.exited, p.stderr()).toBe(0);
    const res = expectCompleteRun(dir, json);
    const nodes = [...res.environment.nodes].sort((a, b) => Number(a.rank) - Number(b.rank));
    expect(nodes.map((n) => [n.rank, n.launcher, n.pid])).toEqual(pods.map(({ index, p }) => [index, 'kubernetes', p.child.pid]));
    // Each announced its POD_IP (--data-host $(POD_IP)) and a data port from --data-ports.
    for (const n of nodes) {
      expect(n.dataHost).toBe('127.0.0.1');
      expect(Number(n.dataPort)).toBeGreaterThanOrEqual(range.first);
      expect(Number(n.dataPort)).toBeLessThanOrEqual(range.last);
    }
    expect(JSON.stringify(res.run.argv)).not.toContain(TOKEN);
  });
});
