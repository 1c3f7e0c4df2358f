/**
 * The host topology sysfs gives: network interfaces read for real inside a network
 * namespace of the test's own (a veth pair and a bridge: `ip netns exec` remounts /sys, so
 * the namespace's devices are what /sys/class/net shows), GPU PCI functions and RDMA ports
 * from a constructed sysfs tree (this machine has neither; the tree's values are clearly
 * fake), and the link-ceiling arithmetic the results use.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readGpuPci, readInfiniband, readNics } from '../src/harness/topology/sysfs.js';
import { mergeGpus, normalizeBusId } from '../src/harness/topology/host.js';
import { applyLink, gpuGroupCeiling, ncclNetworkCeiling, networkCeiling, pcieCeiling } from '../src/harness/topology/links.js';
import { ibRateGbps, nicGBps, pcieGBps, pcieGenOfSpeed, PCIE_GBPS_PER_LANE } from '../src/harness/topology/rates.js';
import type { CaseResult } from '../src/harness/results/schema.js';
import { topologySummary } from '../src/harness/topology/summary.js';
import type { GpuTopology, HostTopology } from '../src/harness/topology/schema.js';
import { CLI, ROOT } from './helpers/cli.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpubench-sysfs-'));
  dirs.push(d);
  return d;
};
const namespaces: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
});

/** Writes `files` (path → content) under `root`, and `links` (path → target) as symlinks. */
function tree(root: string, files: Record<string, string>, links: Record<string, string> = {}): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), `${text}\n`);
  }
  for (const [p, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    symlinkSync(target, join(root, p));
  }
}

const ip = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
const netnsWhy = process.platform !== 'linux' ? 'not Linux' : process.getuid?.() !== 0 ? 'not root (network namespaces need root)' : ip(['-V']).error ? '`ip` not found: apt-get install iproute2' : '';

describe(`network interfaces, for real in a network namespace${netnsWhy ? ` (skipped: ${netnsWhy})` : ''}`, () => {
  it.skipIf(!!netnsWhy)('a veth reports 10000 Mb/s, loopback and an empty bridge no speed; mtu, state, addresses; `list --json` the same', () => {
    const ns = `gbt${process.pid}-nics`;
    namespaces.push(ns);
    for (const a of [
      ['netns', 'add', ns],
      ['-n', ns, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb'],
      ['-n', ns, 'link', 'set', 'va', 'mtu', '9000'],
      ['-n', ns, 'link', 'set', 'vb', 'mtu', '9000'],
      ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge'],
      ['-n', ns, 'addr', 'add', '10.232.0.1/24', 'dev', 'va'],
      ['-n', ns, 'link', 'set', 'va', 'up'],
      ['-n', ns, 'link', 'set', 'vb', 'up'],
      ['-n', ns, 'link', 'set', 'br0', 'up'],
    ]) expect(ip(a).status, a.join(' ')).toBe(0);
    const script = `import('${join(ROOT, 'dist/harness/topology/sysfs.js')}').then((m) => console.log(JSON.stringify(m.readNics())))`;
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const nics = JSON.parse(r.stdout) as ReturnType<typeof readNics>;
    const by = Object.fromEntries(nics.map((n) => [n.name, n]));
    expect(Object.keys(by).sort()).toEqual(['br0', 'lo', 'va', 'vb']);
    expect(by.va).toEqual({ name: 'va', operstate: 'up', speedMbps: 10000, mtu: 9000, virtual: true, addresses: expect.arrayContaining(['10.232.0.1']) });
    expect(by.vb).toMatchObject({ speedMbps: 10000, mtu: 9000, virtual: true });
    expect(by.lo).toMatchObject({ speedMbps: null, operstate: 'down', mtu: 65536, virtual: true });
    expect(by.br0).toMatchObject({ speedMbps: null, virtual: true });
    // The CLI in the same namespace: va is listed with its speed; vb and br0 (virtual, no address) are counted, not listed.
    const out = join(tmp(), 'l.json');
    const l = spawnSync('ip', ['netns', 'exec', ns, process.execPath, CLI, 'list', '--json', out], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, GPUBENCH_CUDA_LIBRARY_PATH: tmp() } });
    expect(l.status, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/│ va +│ up +│ 10 Gb\/s +│ 9000 +│ virtual +│/);
    expect(l.stdout).toMatch(/2 virtual without an address not shown/);
    const topo = (JSON.parse(readFileSync(out, 'utf8')) as { topology: HostTopology }).topology;
    expect(topo.nics.map((n) => n.name).sort()).toEqual(['lo', 'va']);
    expect(topo.virtualNicsOmitted).toBe(2);
  });
});

describe('GPUs and RDMA ports from a constructed sysfs tree (fake values)', () => {
  const root = tmp();
  const gpu = 'devices/pci0000:17/0000:17:01.0/0000:1b:00.0';
  const hca = 'devices/pci0000:17/0000:17:02.0/0000:2a:00.0';
  tree(root, {
    [`${gpu}/vendor`]: '0x10de', [`${gpu}/class`]: '0x030200',
    [`${gpu}/max_link_speed`]: '32.0 GT/s PCIe', [`${gpu}/current_link_speed`]: '2.5 GT/s PCIe',
    [`${gpu}/max_link_width`]: '16', [`${gpu}/current_link_width`]: '8',
    [`${gpu}/numa_node`]: '1', [`${gpu}/local_cpulist`]: '32-63',
    // An NVSwitch (class 0x0680) and an NVIDIA audio function are not GPUs.
    'devices/pci0000:17/0000:17:03.0/vendor': '0x10de', 'devices/pci0000:17/0000:17:03.0/class': '0x068000',
    'devices/pci0000:17/0000:17:04.0/vendor': '0x10de', 'devices/pci0000:17/0000:17:04.0/class': '0x040300',
    [`${hca}/vendor`]: '0x15b3', [`${hca}/class`]: '0x020700', [`${hca}/numa_node`]: '-1',
    [`${hca}/infiniband/mlx5_0/.keep`]: '',
    [`${hca}/net/ib0/.keep`]: '',
    'class/infiniband/mlx5_0/ports/1/rate': '400 Gb/sec (4X NDR)',
    'class/infiniband/mlx5_0/ports/1/state': '4: ACTIVE',
    'class/infiniband/mlx5_0/ports/1/phys_state': '5: LinkUp',
    'class/infiniband/mlx5_0/ports/1/link_layer': 'InfiniBand',
    'class/net/ib0/speed': '400000', 'class/net/ib0/operstate': 'up', 'class/net/ib0/mtu': '4092',
    'drivers/mlx5_core/.keep': '',
  }, {
    'bus/pci/devices/0000:1b:00.0': `../../../${gpu}`,
    'bus/pci/devices/0000:17:03.0': '../../../devices/pci0000:17/0000:17:03.0',
    'bus/pci/devices/0000:17:04.0': '../../../devices/pci0000:17/0000:17:04.0',
    'bus/pci/devices/0000:2a:00.0': `../../../${hca}`,
    'class/infiniband/mlx5_0/device': `../../../${hca}`,
    'class/net/ib0/device': `../../../${hca}`,
    [`${hca}/driver`]: '../../../../drivers/mlx5_core',
  });

  it('an NVIDIA GPU: PCIe from sysfs (max gen × current width), NUMA node and local CPUs; NVSwitches and audio functions are not GPUs', () => {
    expect(readGpuPci(root)).toEqual([{
      pciBusId: '0000:1b:00.0',
      pcie: { source: 'sysfs', maxGen: 5, currentGen: 1, maxWidth: 16, currentWidth: 8, ceilingGBps: PCIE_GBPS_PER_LANE[5]! * 8 },
      numaNode: 1,
      cpuAffinity: '32-63',
    }]);
  });

  it('an RDMA device: its port’s state, rate and link layer, its PCI address, NUMA node (none) and netdev', () => {
    expect(readInfiniband(root)).toEqual([{
      name: 'mlx5_0', pciBusId: '0000:2a:00.0', numaNode: null, netdevs: ['ib0'],
      ports: [{ port: 1, state: 'ACTIVE', physState: 'LinkUp', rate: '400 Gb/sec (4X NDR)', rateGbps: 400, linkLayer: 'InfiniBand' }],
    }]);
    expect(readNics(root).find((n) => n.name === 'ib0')).toEqual({
      name: 'ib0', operstate: 'up', speedMbps: 400000, mtu: 4092, virtual: false, driver: 'mlx5_core', pciBusId: '0000:2a:00.0', numaNode: null, rdmaDevice: 'mlx5_0',
    });
  });

  it('NVML’s record of a GPU wins over sysfs’s, keeping the NUMA node only sysfs knows', () => {
    const nvml: GpuTopology = { pciBusId: '00000000:1B:00.0', id: 'cuda:0', pcie: { source: 'nvml', maxGen: 5, currentGen: 5, maxWidth: 16, currentWidth: 16, ceilingGBps: 63 }, cpuAffinity: '32-47' };
    expect(mergeGpus(readGpuPci(root), [nvml])).toEqual([{ ...nvml, pciBusId: '0000:1b:00.0', numaNode: 1 }]);
    expect(normalizeBusId('00000000:1B:00.0')).toBe('0000:1b:00.0');
    expect(normalizeBusId('0001:1b:00.0')).toBe('0001:1b:00.0');
  });
});

describe('link ceilings', () => {
  it('PCIe per lane per direction after encoding: gen3 0.985, gen4 1.969, gen5 3.938, gen6 7.563 GB/s', () => {
    expect(pcieGBps(3, 16)).toBeCloseTo(15.754, 3);
    expect(pcieGBps(4, 16)).toBeCloseTo(31.508, 3);
    expect(pcieGBps(5, 16)).toBeCloseTo(63.015, 3);
    expect(pcieGBps(6, 16)).toBeCloseTo(121, 3);
    expect(pcieGBps(1, 1)).toBe(0.25);
    expect(pcieGBps(9, 16)).toBeUndefined();
    expect(pcieGBps(4, undefined)).toBeUndefined();
    expect([pcieGenOfSpeed('16.0 GT/s PCIe'), pcieGenOfSpeed('8 GT/s'), pcieGenOfSpeed('2.5 GT/s PCIe'), pcieGenOfSpeed('Unknown')]).toEqual([4, 3, 1, undefined]);
    expect(ibRateGbps('200 Gb/sec (4X HDR)')).toBe(200);
    expect(nicGBps(100000)).toBe(12.5);
    expect(nicGBps(null)).toBeUndefined();
  });

  const host = (name: string, speed: number | null): { hostname: string; topology: HostTopology } => ({
    hostname: name,
    topology: { gpus: [], infiniband: [], sources: ['sysfs'], dataInterface: 'eth0', nics: [{ name: 'eth0', speedMbps: speed, virtual: false }, { name: 'lo', speedMbps: null, virtual: true }] },
  });

  it('across hosts: the slowest data interface, Mb/s / 8000; unknown when any host’s is unknown or there is one host', () => {
    const c = networkCeiling([host('a', 100000), host('a', 100000), host('b', 25000)]);
    expect(c).toEqual({
      kind: 'network', ceilingGBps: 3.125, metric: 'busbwGBps',
      what: 'eth0 on b, 25000 Mb/s (slowest data interface of 2 hosts: eth0 100000 Mb/s, eth0 25000 Mb/s)',
      basis: 'NIC speed (sysfs /sys/class/net/eth0/speed) 25000 Mb/s / 8000 = GB/s per direction',
    });
    expect(networkCeiling([host('a', 100000), host('b', null)])).toBeUndefined();
    expect(networkCeiling([host('a', 100000), host('a', 100000)])).toBeUndefined();
  });

  it('NCCL across hosts: each host’s active RDMA ports summed, the slowest host; sockets on the data interface without RDMA', () => {
    const rdma = (name: string, rates: [number, string][]) => {
      const h = host(name, 100000);
      h.topology.infiniband = [{ name: 'mlx5_0', ports: rates.map(([r, state], i) => ({ port: i + 1, rateGbps: r, state })) }];
      return h;
    };
    const c = ncclNetworkCeiling([rdma('a', [[400, 'ACTIVE'], [400, 'ACTIVE']]), rdma('b', [[400, 'ACTIVE'], [400, 'DOWN']])]);
    expect(c).toMatchObject({ kind: 'network', ceilingGBps: 50, what: '1 RDMA port (mlx5_0/1 400 Gb/s) on b (slowest host of 2)' });
    expect(c!.basis).toMatch(/^active RDMA port rates summed .* 400 Gb\/s \/ 8/);
    const s = ncclNetworkCeiling([rdma('a', [[400, 'ACTIVE']]), host('b', 25000)]);
    expect(s).toMatchObject({ ceilingGBps: 3.125, what: 'eth0 25000 Mb/s on b (slowest host of 2)' });
    expect(s!.basis).toMatch(/^no active RDMA port: NCCL over sockets, assumed on the data interface/);
    expect(ncclNetworkCeiling([rdma('a', [[400, 'ACTIVE']]), host('b', null)])).toBeUndefined();
  });

  it('between local GPUs: NVLink when every GPU has active links, else PCIe; the slowest GPU; nothing for one GPU', () => {
    const g = (id: string, links: number, gen = 4): GpuTopology => ({
      pciBusId: id, id,
      pcie: { source: 'nvml', maxGen: 4, currentWidth: 16, ceilingGBps: pcieGBps(4, 16)! },
      ...(links ? { nvlinks: Array.from({ length: links }, (_, l) => ({ link: l, active: true, generation: gen })), nvlinkGBps: links * (gen === 5 ? 50 : 25) } : {}),
    });
    expect(gpuGroupCeiling([g('cuda:0', 18), g('cuda:1', 12)])).toMatchObject({ kind: 'nvlink', ceilingGBps: 300, what: 'cuda:1 NVLink 4 ×12 (slowest of 2 GPUs)' });
    expect(gpuGroupCeiling([g('cuda:0', 18), g('cuda:1', 0)])).toMatchObject({ kind: 'pcie', ceilingGBps: pcieGBps(4, 16) });
    expect(gpuGroupCeiling([g('cuda:0', 18)])).toBeUndefined();
    expect(pcieCeiling(g('cuda:0', 0))!.basis).toBe('PCIe gen4 1.969 GB/s per lane per direction × 16 lanes (nvml)');
  });

  it('a host in one line: data interface, GPUs’ distinct links, RDMA ports', () => {
    const t: HostTopology = {
      ...host('a', 100000).topology,
      gpus: [0, 1].map((i) => ({ pciBusId: `0000:1${i}:00.0`, pcie: { source: 'nvml' as const, maxGen: 5, currentGen: 1, currentWidth: 16 }, nvlinks: Array.from({ length: 18 }, (_, l) => ({ link: l, active: true, generation: 4 })) })),
      infiniband: [{ name: 'mlx5_0', ports: [{ port: 1, rateGbps: 400, state: 'ACTIVE' }] }],
    };
    expect(topologySummary(t)).toBe('data eth0 100 Gb/s · 2 GPUs: PCIe gen5 x16, NVLink 4 ×18 · mlx5_0/1 400 Gb/s ACTIVE');
    expect(topologySummary(undefined)).toBe('');
  });

  it('a case gets link.pct and metrics.pctOfLink from the metric the ceiling names; none without that metric', () => {
    const c = { metrics: { busbwGBps: 1 } } as unknown as CaseResult;
    applyLink(c, { kind: 'network', what: 'x', ceilingGBps: 1.25, basis: 'b', metric: 'busbwGBps' });
    expect(c.link!.pct).toBe(80);
    expect(c.metrics.pctOfLink).toBe(80);
    const d = { metrics: {} } as unknown as CaseResult;
    applyLink(d, { kind: 'network', what: 'x', ceilingGBps: 1.25, basis: 'b', metric: 'busbwGBps' });
    expect(d.link).toEqual({ kind: 'network', what: 'x', ceilingGBps: 1.25, basis: 'b', metric: 'busbwGBps' });
    expect(d.metrics.pctOfLink).toBeUndefined();
  });
});
