/**
 * GPU topology from NVML on the fake driver (test/helpers/fake-cuda.ts: FAKE_NVML set gives
 * clearly fake NVLinks, PCIe and affinity), through the real CLI: `gpubench list` shows and
 * `list --json` carries it; a driver whose NVML lacks the topology entry points (older) and a
 * host without NVML still list, with those facts absent rather than guessed; results files
 * carry the topology in `environment` and in each cuda device, and bandwidth cases the link
 * ceiling they are measured against (HBM for a copy, NVLink between local GPUs for nccl).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../src/kernels/cuda/addon.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { HostTopology } from '../src/harness/topology/schema.js';
import { readGpuPci } from '../src/harness/topology/sysfs.js';
import { buildFakes, CC } from './helpers/fake-cuda.js';
import { gpubench } from './helpers/cli.js';

const loaded = loadAddon();
const addon = 'addon' in loaded ? loaded.addon : undefined;
const why = !addon ? 'native addon not built: run npm run build:native' : !CC ? 'no C compiler for the fake CUDA libraries: install gcc' : '';
const withFakes = it.skipIf(!addon || !CC);

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpubench-topo-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const fakes = (drop: Parameters<typeof buildFakes>[2] = {}, libs: Parameters<typeof buildFakes>[1] = ['cuda', 'nvml', 'nccl']) => {
  const d = buildFakes(addon!, libs, drop);
  dirs.push(d);
  return d;
};

/** The topology symbols of the addon's NVML slot (all optional), as the fake names them. */
const TOPOLOGY_SYMBOLS = [
  'nvmlDeviceGetNvLinkState', 'nvmlDeviceGetNvLinkVersion', 'nvmlDeviceGetNvLinkRemotePciInfo_v2', 'nvmlDeviceGetMaxPcieLinkGeneration',
  'nvmlDeviceGetCurrPcieLinkGeneration', 'nvmlDeviceGetMaxPcieLinkWidth', 'nvmlDeviceGetCurrPcieLinkWidth', 'nvmlDeviceGetCpuAffinity', 'nvmlDeviceGetTopologyCommonAncestor',
];

interface Listing {
  backends: { id: string; available: boolean; notes: string[]; devices: { id: string; topology?: Record<string, unknown> }[] }[];
  topology: HostTopology;
}

/**
 * `gpubench list --json` on the fake driver. Its sysfs is an empty folder unless `realSysfs`: a
 * GPU runner's real GPUs must not mix with the fake ones (their PCI addresses may coincide).
 */
function list(env: NodeJS.ProcessEnv, realSysfs = false): { code: number; stdout: string; j: Listing } {
  const out = join(tmp(), 'list.json');
  const r = gpubench(['list', '--json', out], { ...(realSysfs ? {} : { GPUBENCH_SYSFS_ROOT: tmp() }), ...env });
  const j = JSON.parse(readFileSync(out, 'utf8')) as Listing;
  HostTopology.parse(j.topology); // what list --json writes follows the results' topology contract
  return { code: r.code, stdout: r.stdout, j };
}

describe(`GPU topology from NVML on the fake driver${why ? ` (skipped: ${why})` : ''}`, () => {
  withFakes('the topology entry points are optional in the NVML slot', () => {
    const syms = addon!.symbols('nvml');
    for (const name of TOPOLOGY_SYMBOLS) expect(syms.find((s) => s.names[0] === name), name).toMatchObject({ optional: true });
  });

  withFakes('list shows each GPU’s PCIe (now and max), NVLinks with their far ends, CPUs and peers; --json carries them', () => {
    const { code, stdout, j } = list({ GPUBENCH_CUDA_LIBRARY_PATH: fakes(), FAKE_NVML: '1', FAKE_CUDA_DEVICES: '2' });
    expect(code).toBe(0);
    expect(j.topology.sources).toEqual(['sysfs', 'nvml']);
    const [g0, g1] = j.topology.gpus;
    expect(g0).toMatchObject({
      pciBusId: '0000:1b:00.0', id: 'cuda:0', name: 'NVIDIA Fake H100 80GB HBM3', uuid: 'GPU-00112233-4455-6677-8899-aabbccddeeff',
      pcie: { source: 'nvml', maxGen: 5, currentGen: 4, maxWidth: 16, currentWidth: 16 },
      cpuAffinity: '0-3,8-11',
      nvlinkGBps: 100,
      peers: [{ id: 'cuda:1', level: 'single' }],
    });
    // gen5 per lane 32 GT/s × 128/130 / 8 = 3.938 GB/s, × 16 lanes: the max generation, the current width.
    expect(g0!.pcie!.ceilingGBps).toBeCloseTo(63.015, 2);
    expect(g0!.nvlinks).toHaveLength(18);
    expect(g0!.nvlinks![0]).toEqual({ link: 0, active: true, nvmlVersion: 6, generation: 4, remotePciBusId: '0000:1c:00.0', remote: 'cuda:1' });
    expect(g0!.nvlinks![1]).toEqual({ link: 1, active: true, nvmlVersion: 6, generation: 4, remotePciBusId: '0000:fa:00.0' });
    expect(g0!.nvlinks!.filter((l) => l.active)).toHaveLength(4);
    expect(g1).toMatchObject({ pciBusId: '0000:1c:00.0', id: 'cuda:1', peers: [{ id: 'cuda:0', level: 'single' }] });
    expect(g1!.nvlinks![0]!.remote).toBe('cuda:0');
    // The cuda backend's devices carry their own record.
    const cuda = j.backends.find((b) => b.id === 'cuda')!;
    expect(cuda.devices[1]!.topology).toEqual(g1);
    expect(stdout).toMatch(/GPU topology \(sysfs \+ nvml\)/);
    expect(stdout).toMatch(/cuda:0 .*0000:1b:00\.0 .*gen4 x16 \(max gen5 x16\) .*63\.0 GB\/s .*4\/18 active, NVLink 4, 100 GB\/s → cuda:1, 0000:fa:00\.0 .*0-3,8-11 .*cuda:1 single/);
    expect(stdout).toMatch(/Network interfaces \(\/sys\/class\/net/);
  });

  withFakes('an older NVML without the topology entry points: cuda still available, those facts absent, nothing guessed', () => {
    const { code, j } = list({ GPUBENCH_CUDA_LIBRARY_PATH: fakes({ nvml: TOPOLOGY_SYMBOLS }), FAKE_NVML: '1' });
    expect(code).toBe(0);
    const cuda = j.backends.find((b) => b.id === 'cuda')!;
    expect(cuda.available).toBe(true);
    expect(cuda.notes.join('\n')).toMatch(/NVML \(driver 580\.00\.fake\)/);
    expect(j.topology.gpus).toEqual([{ pciBusId: '0000:1b:00.0', id: 'cuda:0', name: 'NVIDIA Fake H100 80GB HBM3', uuid: 'GPU-00112233-4455-6677-8899-aabbccddeeff' }]);
  });

  withFakes('no NVML: the CUDA facts only, and sources say so', () => {
    const { j } = list({ GPUBENCH_CUDA_LIBRARY_PATH: fakes({}, ['cuda']) });
    expect(j.topology.sources).toEqual(['sysfs', 'cuda']);
    expect(j.topology.gpus).toEqual([{ pciBusId: '0000:1b:00.0', id: 'cuda:0', name: 'NVIDIA Fake H100 80GB HBM3', uuid: 'GPU-00112233-4455-6677-8899-aabbccddeeff' }]);
  });

  it('no driver: the GPUs sysfs shows (none on a machine without one), the NICs still listed', () => {
    const { code, stdout, j } = list({ GPUBENCH_CUDA_LIBRARY_PATH: tmp() }, true);
    expect(code).toBe(0);
    const sysfs = readGpuPci();
    expect(j.topology.gpus).toEqual(sysfs);
    expect(j.topology.sources).toEqual(['sysfs']);
    expect(j.topology.nics.find((n) => n.name === 'lo')).toMatchObject({ virtual: true, speedMbps: null });
    if (sysfs.length === 0) expect(stdout).toMatch(/GPU topology: no NVIDIA GPU in \/sys\/bus\/pci\/devices/);
    else expect(stdout).toMatch(/GPU topology \(sysfs\):/);
  });

  withFakes('a copy on the fake GPU is measured against the catalog’s HBM bandwidth, read+write; environment and device carry the topology', () => {
    const suite = join(tmp(), 's.yaml');
    writeFileSync(suite, 'schema: gpubench.suite/v1\nname: fake\nmeasure: { warmupMs: 20, minTimeMs: 5, minSamples: 3, maxSamples: 5, minSampleMs: 1 }\nworkloads:\n  - { workload: memcpy, backends: [cuda], sizes: [4096] }\n');
    const out = join(tmp(), 'r.json');
    const r = gpubench(['run', '--suite', suite, '--json', out, '--reporter', 'silent'], { GPUBENCH_CUDA_LIBRARY_PATH: fakes(), FAKE_CUDA: 'host', FAKE_NVML: '1', GPUBENCH_SYSFS_ROOT: tmp() });
    expect(r.code, r.stderr).toBe(0);
    const res = ResultsFile.parse(JSON.parse(readFileSync(out, 'utf8')));
    const c = res.cases[0]!;
    expect(c.link).toMatchObject({ kind: 'memory', ceilingGBps: 3350, metric: 'readWriteGBps', what: 'NVIDIA Fake H100 80GB HBM3 memory' });
    expect(c.link!.basis).toMatch(/^datasheet memory bandwidth of H100-SXM5-80GB \(configs\/gpus\.yaml\), compared with bytes read \+ written$/);
    expect(c.link!.pct).toBeCloseTo((100 * c.metrics.readWriteGBps!) / 3350, 9);
    expect(c.metrics.pctOfLink).toBe(c.link!.pct);
    expect(res.environment.topology!.sources).toEqual(['sysfs', 'nvml']);
    expect(res.environment.topology!.gpus[0]).toMatchObject({ id: 'cuda:0', nvlinkGBps: 100 });
    expect(res.devices[0]!.topology).toMatchObject({ id: 'cuda:0', pcie: { maxGen: 5 } });
  });

  withFakes('nccl across 2 worker processes on one host: busbw against the GPUs’ NVLink (4 active links × 25 GB/s)', () => {
    const dir = tmp();
    const suite = join(dir, 's.yaml');
    writeFileSync(suite, 'schema: gpubench.suite/v1\nname: nccl-topo\nmeasure: { warmupMs: 5, minTimeMs: 5, minSamples: 3, maxSamples: 3, minSampleMs: 1 }\nworkloads:\n  - { workload: allreduce, backends: [nccl], minBytes: 4096, maxBytes: 4096 }\n');
    const out = join(dir, 'r.json');
    const r = gpubench(['run', '--suite', suite, '--local-nodes', '2', '--json', out, '--reporter', 'silent'], {
      GPUBENCH_CUDA_LIBRARY_PATH: fakes(),
      FAKE_CUDA: 'host',
      FAKE_CUDA_DEVICES: '2',
      FAKE_NCCL: 'multi',
      FAKE_NCCL_DIR: dir,
      FAKE_NCCL_TIMEOUT_MS: '20000',
      FAKE_NVML: '1',
    }, 60_000);
    expect(r.code, r.stderr).toBe(0);
    const res = ResultsFile.parse(JSON.parse(readFileSync(out, 'utf8')));
    const c = res.cases[0]!;
    expect(c.status).toBe('ok');
    expect(c.link).toMatchObject({ kind: 'nvlink', ceilingGBps: 100, metric: 'busbwGBps', what: 'cuda:0 NVLink 4 ×4 (slowest of 2 GPUs)' });
    expect(c.link!.basis).toBe('4 active links × 25 GB/s (NVLink 4) per link per direction (NVML)');
    expect(c.link!.pct).toBeCloseTo((100 * c.metrics.busbwGBps!) / 100, 9);
    // Every worker's own host topology is in its node entry.
    expect(res.environment.nodes).toHaveLength(2);
    for (const n of res.environment.nodes) expect((n.topology as HostTopology).nics.some((x) => x.name === 'lo')).toBe(true);
  });
});
