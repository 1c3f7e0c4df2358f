/** `gpubench list`: every backend, whether it is available here, why not, and its devices. */
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { disposeBackends, listBackends, probeBackend } from '../../registry.js';
import { writeJsonAtomic } from '../../../reporters/results-file.js';
import type { DeviceInfo } from '../../results/schema.js';
import { hostTopology } from '../../topology/host.js';
import { renderTopology } from './list-topology.js';

/** One backend as `list --json` reports it. */
export interface BackendListing {
  id: string;
  title: string;
  available: boolean;
  reason: string | null;
  notes: string[];
  devices: DeviceInfo[];
}

/** Probes every registered backend (the built-in ones are loaded on first call). */
export async function listAll(): Promise<BackendListing[]> {
  await import('../../../kernels/index.js');
  const backends = listBackends();
  // Probed together: Dawn's adapter set-up and the tfjs imports overlap (list is start-up bound).
  const probes = await Promise.all(backends.map((b) => probeBackend(b.id)));
  return backends.map((b, i) => {
    const p = probes[i]!;
    return {
      id: b.id,
      title: b.title,
      available: p.available,
      reason: p.available ? null : p.reason,
      notes: p.available ? (p.notes ?? []) : [],
      devices: p.devices ?? [],
    };
  });
}

export const listCommand: CliCommand = {
  register(program: Command) {
    program
      .command('list')
      .description('list every backend: available or not (and why), with device facts, and the GPU and network topology')
      .option('--json <file>', 'also write { "backends": [...], "topology": {...} } to this file')
      .action(async (opts: { json?: string }) => {
        try {
          const [backends, { default: Table }, { default: pc }] = await Promise.all([listAll(), import('cli-table3'), import('picocolors')]);
          const t = new Table({ head: ['backend', 'available', 'device / reason'], style: { head: [], border: [] }, wordWrap: true, colWidths: [16, 11, 90] });
          for (const b of backends) {
            const what = b.available
              ? [b.devices.map((d) => `${d.name}${d.vendor ? ` (${d.vendor})` : ''}`).join('; '), ...b.notes.map((n) => `note: ${n}`)].join('\n')
              : b.reason;
            t.push([b.id, b.available ? pc.green('yes') : pc.yellow('no'), what ?? '']);
          }
          process.stdout.write(`${t.toString()}\n`);
          // After the probes: the cuda backend's NVML facts join sysfs's once its stack is open.
          const topology = hostTopology();
          process.stdout.write(`${renderTopology(topology, Table)}\n`);
          if (opts.json) writeJsonAtomic(opts.json, { backends, topology });
        } finally {
          await disposeBackends();
        }
      });
  },
};
