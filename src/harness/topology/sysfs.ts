/**
 * The host's topology as Linux's sysfs describes it: network interfaces (/sys/class/net),
 * RDMA devices (/sys/class/infiniband) and NVIDIA PCI functions (/sys/bus/pci/devices).
 * Plain file reads, no subprocess: `gpubench list` stays fast. Every reader takes the sysfs
 * root so tests can point it at a tree of their own; a missing file is a missing fact.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { GpuTopology, IbDevice, Nic } from './schema.js';
import { ibRateGbps, pcieGBps, pcieGenOfSpeed } from './rates.js';

/** Where sysfs is: GPUBENCH_SYSFS_ROOT (tests), else /sys. */
export const sysfsRoot = (): string => process.env.GPUBENCH_SYSFS_ROOT ?? '/sys';

/** A sysfs attribute's text, trimmed; undefined where it is absent or unreadable (EINVAL for a down link's speed). */
export function readAttr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function int(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+$/.test(s)) return undefined;
  return Number(s);
}

/** NUMA node of a device folder: null for -1 (no NUMA information), undefined where absent. */
function numaOf(deviceDir: string): number | null | undefined {
  const n = int(readAttr(join(deviceDir, 'numa_node')));
  return n === undefined ? undefined : n < 0 ? null : n;
}

const PCI_ADDRESS = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/**
 * The PCI device folder behind a class device's `device` link: the link itself, or its
 * parent where a bus sits between (virtio_net's `virtio2` under its PCI function).
 */
function pciDirOf(deviceDir: string): string | undefined {
  try {
    const real = realpathSync(deviceDir);
    if (PCI_ADDRESS.test(basename(real))) return real;
    const parent = dirname(real);
    return PCI_ADDRESS.test(basename(parent)) ? parent : undefined;
  } catch {
    return undefined;
  }
}

/** "0000:1b:00.0" of a PCI device folder. */
const pciAddressOf = (pciDir: string | undefined): string | undefined => (pciDir ? basename(pciDir).toLowerCase() : undefined);

/** Every interface of /sys/class/net, with its addresses in this network namespace. */
export function readNics(root = sysfsRoot()): Nic[] {
  const addrs = networkInterfaces();
  return list(join(root, 'class', 'net')).map((name) => {
    const dir = join(root, 'class', 'net', name);
    const device = join(dir, 'device');
    const virtual = !existsSync(device);
    const speed = int(readAttr(join(dir, 'speed')));
    const nic: Nic = {
      name,
      operstate: readAttr(join(dir, 'operstate')),
      speedMbps: speed !== undefined && speed > 0 ? speed : null,
      virtual,
    };
    const mtu = int(readAttr(join(dir, 'mtu')));
    if (mtu !== undefined) nic.mtu = mtu;
    if (!virtual) {
      try {
        nic.driver = basename(readlinkSync(join(device, 'driver')));
      } catch {
        // no driver bound
      }
      const pciDir = pciDirOf(device);
      const pci = pciAddressOf(pciDir);
      if (pci) nic.pciBusId = pci;
      const numa = numaOf(pciDir ?? device);
      if (numa !== undefined) nic.numaNode = numa;
      const rdma = list(join(device, 'infiniband'))[0];
      if (rdma) nic.rdmaDevice = rdma;
    }
    const a = addrs[name]?.map((x) => x.address);
    if (a?.length) nic.addresses = a;
    if (nic.operstate === undefined) delete nic.operstate;
    return nic;
  });
}

/** Every RDMA device of /sys/class/infiniband with its ports' state and rate. */
export function readInfiniband(root = sysfsRoot()): IbDevice[] {
  return list(join(root, 'class', 'infiniband')).map((name) => {
    const dir = join(root, 'class', 'infiniband', name);
    const device = join(dir, 'device');
    const dev: IbDevice = {
      name,
      ports: list(join(dir, 'ports')).filter((p) => /^\d+$/.test(p)).map((p) => {
        const pd = join(dir, 'ports', p);
        const rate = readAttr(join(pd, 'rate'));
        const port: IbDevice['ports'][number] = { port: Number(p) };
        // "4: ACTIVE" → ACTIVE; "5: LinkUp" → LinkUp
        const state = readAttr(join(pd, 'state'))?.replace(/^\d+:\s*/, '');
        const phys = readAttr(join(pd, 'phys_state'))?.replace(/^\d+:\s*/, '');
        if (state) port.state = state;
        if (phys) port.physState = phys;
        if (rate) port.rate = rate;
        const gbps = ibRateGbps(rate);
        if (gbps !== undefined) port.rateGbps = gbps;
        const ll = readAttr(join(pd, 'link_layer'));
        if (ll) port.linkLayer = ll;
        return port;
      }),
    };
    const pciDir = pciDirOf(device);
    const pci = pciAddressOf(pciDir);
    if (pci) dev.pciBusId = pci;
    const numa = numaOf(pciDir ?? device);
    if (numa !== undefined) dev.numaNode = numa;
    const net = list(join(device, 'net'));
    if (net.length) dev.netdevs = net;
    return dev;
  });
}

/** NVIDIA's PCI vendor id and the display-controller class prefixes (VGA 0x0300, 3D 0x0302). */
const NVIDIA = '0x10de';

/** Every NVIDIA GPU's PCI function: its link (sysfs speeds and widths), NUMA node and local CPUs. */
export function readGpuPci(root = sysfsRoot()): GpuTopology[] {
  const base = join(root, 'bus', 'pci', 'devices');
  const out: GpuTopology[] = [];
  for (const addr of list(base)) {
    const dir = join(base, addr);
    if (readAttr(join(dir, 'vendor')) !== NVIDIA) continue;
    const cls = readAttr(join(dir, 'class')) ?? '';
    if (!/^0x030[02]/.test(cls)) continue; // GPUs, not NVSwitches (0x0680) or audio functions
    const maxGen = pcieGenOfSpeed(readAttr(join(dir, 'max_link_speed')));
    const currentGen = pcieGenOfSpeed(readAttr(join(dir, 'current_link_speed')));
    const maxWidth = int(readAttr(join(dir, 'max_link_width')));
    const currentWidth = int(readAttr(join(dir, 'current_link_width')));
    const g: GpuTopology = { pciBusId: addr.toLowerCase() };
    if (maxGen !== undefined || currentGen !== undefined || maxWidth !== undefined || currentWidth !== undefined) {
      g.pcie = { source: 'sysfs', maxGen, currentGen, maxWidth, currentWidth, ceilingGBps: pcieGBps(maxGen ?? currentGen, currentWidth ?? maxWidth) };
      for (const k of ['maxGen', 'currentGen', 'maxWidth', 'currentWidth', 'ceilingGBps'] as const) if (g.pcie[k] === undefined) delete g.pcie[k];
    }
    const numa = numaOf(dir);
    if (numa !== undefined) g.numaNode = numa;
    const cpus = readAttr(join(dir, 'local_cpulist'));
    if (cpus) g.cpuAffinity = cpus;
    out.push(g);
  }
  return out;
}

/** The interface that holds `address` in this network namespace (the data links' host), or undefined. */
export function interfaceOf(address: string): string | undefined {
  const plain = address.replace(/^::ffff:/, '').replace(/^\[|\]$/g, '');
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.address === plain)) return name;
  }
  return undefined;
}
