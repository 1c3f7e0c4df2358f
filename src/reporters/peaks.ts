/**
 * The GPU datasheet catalog (`configs/gpus.yaml`), used to draw peak lines: a matmul
 * chart's TFLOP/s ceiling per dtype, and the NVLink ceiling for native collectives.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../harness/errors.js';

const GpuEntry = z.object({
  id: z.string(),
  match: z.string(),
  tflops: z.record(z.string(), z.number()).default({}),
  nvlinkGBps: z.number().optional(),
  memoryGBps: z.number().optional(),
  watts: z.number().optional(),
}).passthrough();
/** One catalog entry, as far as reporters use it. */
export type GpuEntry = z.infer<typeof GpuEntry>;
const Catalog = z.object({ gpus: z.array(GpuEntry) }).passthrough();

/** Same path from `src/reporters/` and `dist/reporters/`: both sit two levels below the package root. */
const DEFAULT_CATALOG = fileURLToPath(new URL('../../configs/gpus.yaml', import.meta.url));

let cached: GpuEntry[] | undefined;

/** Loads the catalog (cached for the default path). A broken catalog is a usage error. */
export function loadGpuCatalog(path: string = DEFAULT_CATALOG): GpuEntry[] {
  if (path === DEFAULT_CATALOG && cached) return cached;
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read GPU catalog ${path}: ${(err as Error).message}`);
  }
  const parsed = Catalog.safeParse(doc);
  if (!parsed.success) throw new UsageError(`GPU catalog ${path} is malformed: ${parsed.error.issues[0]?.message}`);
  if (path === DEFAULT_CATALOG) cached = parsed.data.gpus;
  return parsed.data.gpus;
}

/** The first catalog entry whose `match` regex (case-insensitive) matches the device name. */
export function matchGpu(deviceName: string, catalog: GpuEntry[] = loadGpuCatalog()): GpuEntry | undefined {
  return catalog.find((g) => {
    try {
      return new RegExp(g.match, 'i').test(deviceName);
    } catch {
      return false;
    }
  });
}

/** Maps the contract's dtype names to the catalog's keys (f32 → fp32 …). */
export function catalogDtype(dtype: string): string {
  const map: Record<string, string> = { f32: 'fp32', f16: 'fp16', f64: 'fp64', i8: 'int8' };
  return map[dtype] ?? dtype;
}

/** Datasheet TFLOP/s for a device name and contract dtype, if the catalog knows it. */
export function peakTflops(deviceName: string, dtype: string, catalog?: GpuEntry[]): { gpu: string; tflops: number } | undefined {
  const gpu = matchGpu(deviceName, catalog);
  const t = gpu?.tflops[catalogDtype(dtype)];
  return gpu && t !== undefined ? { gpu: gpu.id, tflops: t } : undefined;
}
