/**
 * Multi-node runs on a real small cluster: four Linux network namespaces on a bridge
 * (test/helpers/netns.ts), each with its own address, TCP/IP stack and hostname. The
 * coordinator runs on node0, one worker on each of node1–node3; they find each other
 * only through the cluster's private 10.231.X.0/24, as separate machines would.
 *
 * - a plain run: every case ok on 3 ranks on 3 hosts, with no --data-host (a worker
 *   announces the address of the socket that reached the coordinator);
 * - a tbf rate limit into one node: the ring all-reduce's alpha-beta fit finds the rate;
 * - a partition (one node's switch port down mid-run): every process exits 3 within the
 *   heartbeat timeout + 5 s, the coordinator names the lost rank and host, and the cases
 *   measured so far are on disk.
 *
 * Needs root and `ip netns`; skipped with the reason otherwise, failed instead under
 * GPUBENCH_REQUIRE_CLUSTER=1 (CI).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/cli.js';
import { makeCluster, netnsMissing, type NetnsCluster } from './helpers/netns.js';
import { watch, type Watched } from './helpers/watch.js';
import { ResultsFile } from '../src/harness/results/schema.js';

const missing = netnsMissing();
const TOKEN = 'netns-test-token-5b1e';
const PORT = 29400; // each node has its own port space: the default port never clashes
const FAST = ['--min-time', '20', '--warmup', '5', '--reporter', 'silent'];
/** Launcher variables from the surrounding environment (a CI job under Slurm, say) must not leak in; empty = unset. */
const CLEAN_ENV = Object.fromEntries(['GPUBENCH_RANK', 'GPUBENCH_WORLD_SIZE', 'GPUBENCH_COORDINATOR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
  'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_JOB_NODELIST', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'JOB_COMPLETION_INDEX', 'GPUBENCH_DEBUG'].map((k) => [k, '']));

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-netns-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: NetnsCluster | undefined;
afterEach(async () => {
  // Kills every process started on the cluster by pid and removes the namespaces, also after a failure.
  await cluster?.destroy();
  cluster = undefined;
});

interface Launched {
  coord: Watched;
  workers: Watched[];
}

/**
 * A coordinator on node0 (token from the environment, bound to every address) and one
 * worker on each other node, all killed after `timeoutMs` at the latest.
 */
async function launch(c: NetnsCluster, runArgs: string[], o: { dataHost?: boolean; coordArgs?: string[]; timeoutMs?: number } = {}): Promise<Launched> {
  const env = { ...CLEAN_ENV, GPUBENCH_TOKEN: TOKEN };
  const limit = o.timeoutMs ?? 60_000;
  const coord = watch(c.exec(0, [process.execPath, CLI, 'coordinator', '--world-size', String(c.nodes.length - 1), '--host', '0.0.0.0', '--port', String(PORT),
    ...(o.coordArgs ?? []), ...runArgs], env), limit);
  await coord.waitFor(/listening on ws:\/\//, 30_000);
  const url = `ws://${c.nodes[0]!.ip}:${PORT}`;
  const workers = c.nodes.slice(1).map((n, j) =>
    watch(c.exec(j + 1, [process.execPath, CLI, 'worker', '--coordinator', url, ...(o.dataHost ? ['--data-host', n.ip] : [])], env), limit));
  return { coord, workers };
}

/** Every process's exit code, coordinator first. */
const codes = (l: Launched) => Promise.all([l.coord.exited, ...l.workers.map((w) => w.exited)]);
const logs = (l: Launched) => [l.coord, ...l.workers].map((w, i) => `--- ${i === 0 ? 'coordinator' : `worker on node${i}`}\n${w.stderr()}`).join('\n');

describe.skipIf(missing !== undefined)(`a cluster of network namespaces${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('the helper: own hostnames and addresses, nodes reach each other until cut, destroy kills by pid and leaves nothing', async () => {
    const c = makeCluster(2);
    cluster = c;
    const out = async (i: number, script: string) => {
      const w = watch(c.exec(i, [process.execPath, '-e', script]), 15_000);
      let s = '';
      w.child.stdout!.on('data', (d: Buffer) => (s += d.toString()));
      return { code: await w.exited, out: s.trim(), err: w.stderr() };
    };
    const id = await out(1, 'const os=require("os");console.log(os.hostname(), Object.values(os.networkInterfaces()).flat().filter(a=>a.family==="IPv4").map(a=>a.address).sort().join(","))');
    expect(id, id.err).toMatchObject({ code: 0, out: `node1 ${['127.0.0.1', c.nodes[1]!.ip].sort().join(',')}` });
    // A TCP server on node1, a client on node0: connected; after the cut, the same connect times out.
    const server = watch(c.exec(1, [process.execPath, '-e', `require("net").createServer(s=>s.end("hi")).listen(7000,"${c.nodes[1]!.ip}",()=>console.error("up"))`]), 30_000);
    await server.waitFor(/up/, 10_000);
    const connect = `const s=require("net").connect(7000,"${c.nodes[1]!.ip}");s.setTimeout(1500,()=>{console.log("timeout");process.exit(1)});s.on("data",d=>{console.log(String(d));process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(1)})`;
    expect(await out(0, connect)).toMatchObject({ code: 0, out: 'hi' });
    c.cut(1);
    expect(await out(0, connect)).toMatchObject({ code: 1, out: 'timeout' });
    const pid = server.child.pid!;
    await c.destroy();
    expect(await server.exited).toBe(-1); // SIGKILLed by pid
    expect(() => process.kill(pid, 0)).toThrow();
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const ns of [c.switchNs, ...c.nodes.map((n) => n.ns)]) expect(left).not.toContain(ns);
  });

  it('runs all-reduce on 3 workers on 3 hosts reaching each other at the addresses they reached the coordinator from', async () => {
    cluster = makeCluster(4);
    const json = join(tmp(), 'r.json');
    // No --data-host: each worker announces the local address of its socket to the coordinator (10.231.X.1x),
    // the only address its peers can reach it at (the hostname resolves nowhere).
    const l = await launch(cluster, ['--workloads', 'allreduce', '-b', '8', '-e', '1M', '-f', '16', '--json', json, ...FAST]);
    expect(await codes(l), logs(l)).toEqual([0, 0, 0, 0]);
    const raw = readFileSync(json, 'utf8');
    const res = readResults(json);
    expect(res.run.status).toBe('complete');
    expect(res.cases.length).toBeGreaterThan(0);
    for (const c of res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.params).toMatchObject({ ranks: 3, nodes: 3 });
      expect(c.id).toMatch(/\/r3h3$/);
      expect(c.check).toMatchObject({ passed: true, wrong: 0 });
    }
    // Each worker announced its own node's address, taken from its socket to the coordinator.
    l.workers.forEach((w, j) => expect(w.stderr()).toContain(`listening at ${cluster!.nodes[j + 1]!.ip}:`));
    const hosts = res.environment.nodes.map((n) => n.hostname);
    expect(new Set(hosts).size).toBe(3);
    expect([...hosts].sort()).toEqual(['node1', 'node2', 'node3']);
    expect(res.run.cluster).toMatchObject({ worldSize: 3, protocolErrors: [] });
    expect(l.coord.stderr()).toMatch(/3 ranks on 3 host\(s\) ready/);
    // The token came through the environment and is written nowhere.
    expect(raw).not.toContain(TOKEN);
  });

  it('a tbf rate limit into one node shows in the ring all-reduce\'s alpha-beta fit (busbw = line rate)', async () => {
    cluster = makeCluster(4);
    // Unlimited, the CPU-bound WebSocket path between these namespaces fits at ~1 GB/s busbw
    // (8 Gbit/s); 200 Mbit/s is 40x below it, so the link and not the CPU sets the pace.
    const rateMbit = 200;
    cluster.limit(2, rateMbit);
    const json = join(tmp(), 'r.json');
    // 256 KiB–4 MiB: at 25 MB/s even the smallest transfer takes ~14 ms, far above α (~2 ms unlimited).
    const l = await launch(cluster, ['--workloads', 'allreduce', '--algorithm', 'ring', '-b', '256K', '-e', '4M', '-f', '2', '--json', json, ...FAST], { dataHost: true });
    expect(await codes(l), logs(l)).toEqual([0, 0, 0, 0]);
    const res = readResults(json);
    for (const c of res.cases) expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
    const fit = res.collectives?.fits.find((f) => f.workload === 'allreduce' && f.algorithm === 'ring' && f.ranks === 3);
    expect(fit, JSON.stringify(res.collectives)).toBeDefined();
    expect(fit!.points).toBe(5);
    // The ring all-reduce on n ranks is a reduce-scatter then an all-gather, n−1 steps each;
    // in every step each rank receives S/n bytes from its ring predecessor over its one inbound
    // link, so each node takes in 2(n−1)/n·S bytes per call, and the steps go in lockstep at
    // the pace of the slowest link. With node2's inbound link at R bytes/s:
    //   t ≈ 2(n−1)/n · S / R  ⇒  busbw = S/t · 2(n−1)/n = R,  algbw = S/t = R · n/(2(n−1)) = 0.75 R for n = 3.
    // So the fit's busbw (1/β × 2(n−1)/n) is the line rate. tbf counts whole frames; the
    // TCP/IP and Ethernet headers take ~3–4 % of it, well inside the 15 %.
    const lineGBps = (rateMbit * 1e6) / 8 / 1e9;
    expect(fit!.busbwGBps! / lineGBps, JSON.stringify(fit)).toBeGreaterThan(0.85);
    expect(fit!.busbwGBps! / lineGBps, JSON.stringify(fit)).toBeLessThan(1.15);
    expect(fit!.algbwGBps! / lineGBps).toBeCloseTo(0.75 * (fit!.busbwGBps! / lineGBps), 6);
    console.log(`tbf ${rateMbit} Mbit/s = ${lineGBps} GB/s; ring fit busbw ${fit!.busbwGBps!.toFixed(5)} GB/s (${((fit!.busbwGBps! / lineGBps) * 100).toFixed(1)} %), algbw ${fit!.algbwGBps!.toFixed(5)}, α ${fit!.alphaUs.toFixed(0)} µs`);
  });

  it('a partition mid-run: every process exits 3 within heartbeat timeout + 5 s, naming the lost rank and host, results so far on disk', async () => {
    cluster = makeCluster(4);
    const heartbeatMs = 3000;
    const json = join(tmp(), 'r.json');
    // A sweep far longer than the test: 11 sizes, at least 500 ms each.
    const l = await launch(cluster, ['--workloads', 'allreduce', '-b', '64K', '-e', '64M', '-f', '2', '--json', json, '--min-time', '500', '--warmup', '5', '--reporter', 'silent'],
      { coordArgs: ['--heartbeat-timeout', String(heartbeatMs)], dataHost: true });
    // Wait (bounded) for the first case on disk: the .jsonl beside the results gets a line per case as it completes.
    const jsonl = json.replace(/\.json$/, '.jsonl');
    const casesOnDisk = () => (existsSync(jsonl) ? readFileSync(jsonl, 'utf8').split('\n').filter((x) => x.startsWith('{"type":"case"')).length : 0);
    for (let i = 0; i < 300 && casesOnDisk() === 0 && l.coord.exitedAt() === undefined; i++) await sleep(100);
    expect(l.coord.exitedAt(), logs(l)).toBeUndefined();
    expect(casesOnDisk(), `no case finished in 30 s\n${logs(l)}`).toBeGreaterThan(0);
    const victim = 2;
    cluster.cut(victim);
    const cutAt = Date.now();
    // Bounded: whoever is still running well past the deadline is killed (and shows as -1).
    const stop = setTimeout(() => { for (const w of [l.coord, ...l.workers]) w.child.kill('SIGKILL'); }, heartbeatMs + 10_000);
    const exitCodes = await codes(l);
    clearTimeout(stop);
    expect(exitCodes, logs(l)).toEqual([3, 3, 3, 3]);
    const after = [l.coord, ...l.workers].map((w) => w.exitedAt()! - cutAt);
    console.log(`exits after the cut (coordinator, node1..node3): ${after.join(', ')} ms`);
    for (const ms of after) expect(ms, logs(l)).toBeLessThan(heartbeatMs + 5000);
    const res = readResults(json);
    expect(res.run.status).toBe('failed');
    const lostRank = res.environment.nodes.find((n) => n.hostname === `node${victim}`)?.rank;
    expect(lostRank, JSON.stringify(res.environment.nodes)).toBeDefined();
    expect(res.run.fault).toMatch(new RegExp(`node${victim}`));
    const namesLost = new RegExp(`rank ${lostRank}\\b[^\\n]*node${victim}|node${victim}[^\\n]*rank ${lostRank}\\b`);
    expect(l.coord.stderr()).toMatch(namesLost);
    // The workers still connected hear it from the coordinator; the cut-off one hears nothing and says so.
    l.workers.forEach((w, j) => expect(w.stderr()).toMatch(j + 1 === victim ? /coordinator/ : namesLost));
    const ok = res.cases.filter((c) => c.status === 'ok');
    expect(ok.length).toBeGreaterThan(0);
    expect(ok[0]!.params.bytes).toBe(65536);
    for (const c of ok) expect(c.params).toMatchObject({ ranks: 3, nodes: 3 });
  });
});
