/**
 * The GPU peak catalog (`configs/gpus.yaml`): datasheet peaks per dtype, matched to a
 * device by name, for % of peak.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PACKAGE_ROOT } from './version.js';

export const GpuEntry = z.looseObject({
  id: z.string(),
  /** Case-insensitive regular expression matched against reported device names. */
  match: z.string(),
  source: z.string(),
  tflops: z.record(z.string(), z.number()),
});
export type GpuEntry = z.infer<typeof GpuEntry>;

const Catalog = z.looseObject({ schema: z.literal('gpubench.gpus/v1'), gpus: z.array(GpuEntry) });

let cached: GpuEntry[] | undefined;

/** Loads the catalog shipped in configs/ (or another file). */
export function loadCatalog(path = join(PACKAGE_ROOT, 'configs', 'gpus.yaml')): GpuEntry[] {
  if (!path.endsWith('configs/gpus.yaml') || !cached) {
    const gpus = Catalog.parse(parseYaml(readFileSync(path, 'utf8'))).gpus;
    if (!path.endsWith('configs/gpus.yaml')) return gpus;
    cached = gpus;
  }
  return cached;
}

/** The catalog entry whose `match` fits a device name, if any. */
export function findGpu(deviceName: string, catalog = loadCatalog()): GpuEntry | undefined {
  return catalog.find((g) => new RegExp(g.match, 'i').test(deviceName));
}

/** Datasheet peak TFLOP/s of a device for a dtype key (fp32, tf32, fp16, bf16, fp8…). */
export function peakTflops(deviceName: string, dtypeKey: string | undefined): number | undefined {
  if (!dtypeKey) return undefined;
  return findGpu(deviceName)?.tflops[dtypeKey];
}
