/**
 * Planning a sweep: suite entries × command-line overrides → the ordered list of cases,
 * each bound to its workload, backend and kernel. Cases a backend cannot run are planned
 * as skipped with the reason, so the results say what was not measured.
 */
import { getBackend, getKernel, getWorkload, listBackends, listWorkloads, probeBackend } from './registry.js';
import type { DeviceInfo, WorkloadId } from './results/schema.js';
import type { Suite } from './suite.js';
import type { CliOverrides } from './workload.js';
import { UsageError } from './errors.js';
import { formatPath } from './suite.js';

/** One planned case. */
export interface PlannedCase {
  id: string;
  workload: WorkloadId;
  backend: string;
  params: unknown;
  /** Set when the case will not run, with why. */
  skip?: string;
}

/** What the command line can narrow or override. */
export interface PlanFilters {
  workloads?: string[];
  backends?: string[];
  overrides: CliOverrides;
}

/** The plan and the devices of the backends it uses. */
export interface Plan {
  cases: PlannedCase[];
  devices: DeviceInfo[];
  /** Backends left out because they are unavailable here, with the reason. */
  unavailable: { backend: string; reason: string }[];
}

function checkIds(kind: string, field: string, given: readonly string[], allowed: readonly string[]): void {
  given.forEach((id, i) => {
    if (!allowed.includes(id))
      throw new UsageError(`unknown ${kind} "${id}"; allowed: ${allowed.join(', ')}`, field.startsWith('--') ? field : `${field}[${i}]`);
  });
}

/** Expands a suite into cases, probing the backends it needs. */
export async function planRun(suite: Suite, f: PlanFilters): Promise<Plan> {
  const workloadIds = listWorkloads();
  if (f.workloads) checkIds('workload', '--workloads', f.workloads, workloadIds);
  const backendIds = listBackends().map((b) => b.id);
  if (f.backends) checkIds('backend', '--backends', f.backends, backendIds);

  // A workload named on the command line that the suite lacks runs with its entry's
  // defaults (e.g. `--workloads allreduce` with the matmul-only default suite).
  const missing = (f.workloads ?? []).filter((w) => !suite.workloads.some((e) => e.workload === w));
  const entries = [...suite.workloads, ...missing.map((workload): Suite['workloads'][number] => ({ workload }))]
    .map((e, index) => ({ e, index }))
    .filter(({ e }) => !f.workloads || f.workloads.includes(e.workload));
  if (entries.length === 0)
    throw new UsageError(`suite "${suite.name}" has no entry for ${f.workloads?.join(', ')}`, '--workloads');

  const cases: PlannedCase[] = [];
  const devices = new Map<string, DeviceInfo>();
  const unavailable = new Map<string, string>();
  const seen = new Set<string>();
  const namedBySuite = new Set(entries.flatMap(({ e }) => e.backends ?? []));
  const usedFromCli = new Set<string>();
  for (const { e: raw, index } of entries) {
    const workload = getWorkload(e_workload(raw))!;
    const e = applyOverrides(workload.entrySchema, raw, f.overrides);
    if (e.backends) checkIds('backend', `workloads[${index}].backends`, e.backends, backendIds);
    // --backends narrows: an entry that names its own backends keeps those also given, and
    // a given backend the suite never names (a plugin's, say) runs in every entry whose
    // workload it implements.
    let named: string[] | undefined;
    if (f.backends) {
      named = f.backends.filter(
        (b) => getKernel(workload.id, b) && (!e.backends || e.backends.includes(b) || !namedBySuite.has(b)),
      );
      for (const b of named) usedFromCli.add(b);
      if (named.length === 0) continue;
    } else if (e.backends) {
      named = e.backends;
      for (const id of named)
        if (!getKernel(workload.id, id)) throw new UsageError(`backend "${id}" has no ${workload.id} kernel`, `workloads[${index}].backends`);
    }
    const candidates = (named ?? backendIds).filter((id) => getKernel(workload.id, id));
    for (const backendId of candidates) {
      const probe = await probeBackend(backendId);
      if (!probe.available) {
        unavailable.set(backendId, probe.reason);
        // Named on the command line: the results say it was skipped. Otherwise it is a note.
        if (!f.backends?.includes(backendId)) continue;
      } else {
        for (const d of probe.devices) devices.set(`${d.backend}|${d.id}`, d);
      }
      const kernel = getKernel(workload.id, backendId)!;
      for (const params of workload.expand(e, f.overrides, { backend: backendId, devices: probe.available ? probe.devices : [] })) {
        const id = workload.caseId(backendId, params as never);
        // Overlapping entries (or overrides that make them equal) must not measure a case twice.
        if (seen.has(id)) continue;
        seen.add(id);
        const skip = probe.available ? kernel.supports?.(params as never, probe.devices) : `backend unavailable: ${probe.reason}`;
        cases.push({ id, workload: workload.id, backend: backendId, params, ...(skip ? { skip } : {}) });
      }
    }
  }
  for (const b of f.backends ?? [])
    if (!usedFromCli.has(b))
      throw new UsageError(`backend "${b}" runs none of the selected workloads (${[...new Set(entries.map(({ e }) => e.workload))].join(', ')})`, '--backends');
  return {
    cases,
    devices: [...devices.values()],
    unavailable: [...unavailable].map(([backend, reason]) => ({ backend, reason })),
  };
}

const e_workload = (e: { workload: string }): WorkloadId => e.workload as WorkloadId;

/**
 * Applies `--sizes`/`--dtypes` to a suite entry whose schema has those fields and
 * re-validates it, so a bad value is reported against the option that gave it.
 */
export function applyOverrides(
  schema: { shape: Record<string, unknown>; safeParse(v: unknown): { success: boolean; data?: unknown; error?: { issues: { path: PropertyKey[]; message: string }[] } } },
  entry: Record<string, unknown>,
  o: CliOverrides,
): Record<string, unknown> & { workload: string; backends?: string[] } {
  const merged: Record<string, unknown> = { ...entry };
  if (o.sizes && 'sizes' in schema.shape) {
    merged.sizes = o.sizes;
    delete merged.shapes;
  }
  if (o.dtypes && 'dtypes' in schema.shape) merged.dtypes = o.dtypes;
  const r = schema.safeParse(merged);
  if (!r.success) {
    const issue = r.error!.issues[0]!;
    const field = String(issue.path[0] ?? '');
    const option = field === 'sizes' || field === 'dtypes' ? `--${field}` : formatPath(issue.path);
    throw new UsageError(`${issue.message}${issue.path.length > 1 ? ` (at ${formatPath(issue.path)})` : ''}`, option);
  }
  return r.data as Record<string, unknown> & { workload: string; backends?: string[] };
}

export { getBackend };
