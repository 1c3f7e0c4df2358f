/**
 * The GPU peak catalog (`configs/gpus.yaml`): datasheet peaks per dtype, memory and
 * link bandwidth, matched to a device by name. The run uses it for % of peak, reports
 * for the peak and link lines of their charts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { PACKAGE_ROOT } from './version.js';

export const GpuEntry = z.looseObject({
  id: z.string(),
  /** Case-insensitive regular expression matched against reported device names. */
  match: z.string(),
  source: z.string(),
  /** Dense datasheet TFLOP/s by catalog dtype key (fp64, fp32, tf32, fp16, bf16, fp8, int8). */
  tflops: z.record(z.string(), z.number()),
  memoryGB: z.number().optional(),
  memoryGBps: z.number().optional(),
  nvlinkGBps: z.number().optional(),
  watts: z.number().optional(),
});
export type GpuEntry = z.infer<typeof GpuEntry>;

const Catalog = z.looseObject({ schema: z.literal('gpubench.gpus/v1'), gpus: z.array(GpuEntry) });

/** The catalog shipped with the package. */
export const DEFAULT_CATALOG = join(PACKAGE_ROOT, 'configs', 'gpus.yaml');

let cached: GpuEntry[] | undefined;

/** Loads a catalog (the shipped one is read once). A broken catalog is a usage error. */
export function loadCatalog(path = DEFAULT_CATALOG): GpuEntry[] {
  if (path === DEFAULT_CATALOG && cached) return cached;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read GPU catalog ${path}: ${(err as Error).message}`);
  }
  const parsed = Catalog.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UsageError(`GPU catalog ${path} is malformed: ${i.path.join('.')}: ${i.message}`);
  }
  if (path === DEFAULT_CATALOG) cached = parsed.data.gpus;
  return parsed.data.gpus;
}

/**
 * The catalog entry a device name belongs to: of the entries whose `match` fits, the
 * most specific (longest pattern) wins, so "H100.*PCIe" beats "H100" whatever the order.
 */
export function matchGpu<E extends { match?: string | undefined }>(entries: readonly E[], deviceName: string): E | undefined {
  let best: E | undefined;
  for (const g of entries) {
    if (!g.match) continue;
    let hit = false;
    try {
      hit = new RegExp(g.match, 'i').test(deviceName);
    } catch {
      hit = false;
    }
    if (hit && (!best || g.match.length > (best.match?.length ?? 0))) best = g;
  }
  return best;
}

/** The shipped (or given) catalog's entry for a device name, if any. */
export function findGpu(deviceName: string, catalog = loadCatalog()): GpuEntry | undefined {
  return matchGpu(catalog, deviceName);
}

/** The catalog's key for a contract dtype (f32 → fp32, f16 → fp16 …). */
export function catalogDtype(dtype: string): string {
  const map: Record<string, string> = { f32: 'fp32', f16: 'fp16', f64: 'fp64', i8: 'int8' };
  return map[dtype] ?? dtype;
}

/** Datasheet TFLOP/s of a device for a contract dtype, with the entry it came from. */
export function datasheetPeak(deviceName: string, dtype: string | undefined, catalog?: GpuEntry[]): { gpu: string; tflops: number } | undefined {
  if (!dtype) return undefined;
  const gpu = findGpu(deviceName, catalog);
  const t = gpu?.tflops[catalogDtype(dtype)];
  return gpu && t !== undefined ? { gpu: gpu.id, tflops: t } : undefined;
}
