/**
 * The GPU catalog as the estimator reads it (`configs/gpus.yaml`): datasheet peaks plus
 * the two estimator-only fields `gemmFraction` and `nvlinkGen`.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../harness/errors.js';
import { PACKAGE_ROOT } from '../harness/version.js';
import { matchGpu } from '../harness/peaks.js';
import { parseOrThrow, readYamlFile } from './validate-input.js';
import type { Precision } from './inputs.js';

export { PACKAGE_ROOT };
/** Where the shipped configs live. */
export const CONFIG_DIR = resolve(PACKAGE_ROOT, 'configs');

export const GpuEntry = z.object({
  id: z.string(),
  match: z.string().optional(),
  source: z.string().optional(),
  tflops: z.record(z.string(), z.number().positive()),
  memoryGB: z.number().positive(),
  memoryGBps: z.number().positive(),
  /** NVLink bandwidth per GPU, both directions together. */
  nvlinkGBps: z.number().positive().optional(),
  watts: z.number().positive(),
  gemmFraction: z.number().positive().max(1).default(0.8),
  /** Share of the fp8 peak an isolated large fp8 GEMM sustains; default 0.8 × gemmFraction. */
  fp8GemmFraction: z.number().positive().max(1).optional(),
  /** Share of the 16-bit peak a flash-attention kernel sustains, forward and backward. */
  flashFraction: z.number().positive().max(1).default(0.35),
  nvlinkGen: z.string().optional(),
  unverified: z.array(z.string()).optional(),
}).passthrough();
export type GpuEntry = z.infer<typeof GpuEntry>;

export const GpuCatalog = z.object({
  schema: z.literal('gpubench.gpus/v1'),
  gpus: z.array(GpuEntry).min(1),
}).passthrough();
export type GpuCatalog = z.infer<typeof GpuCatalog>;

let cached: GpuCatalog | undefined;

/** Loads (and caches) the catalog; `path` defaults to the shipped `configs/gpus.yaml`. */
export function loadGpuCatalog(path?: string): GpuCatalog {
  if (!path && cached) return cached;
  const file = path ?? resolve(CONFIG_DIR, 'gpus.yaml');
  const cat = parseOrThrow(GpuCatalog, readYamlFile(file, '--gpus'), file);
  if (!path) cached = cat;
  return cat;
}

/** Finds a GPU by exact id, then case-insensitive id, then by its `match` expression. */
export function findGpu(catalog: GpuCatalog, name: string, field = 'gpu'): GpuEntry {
  const exact = catalog.gpus.find((g) => g.id === name) ?? catalog.gpus.find((g) => g.id.toLowerCase() === name.toLowerCase());
  if (exact) return exact;
  // Most specific match first: the longest pattern that matches wins (A100.*40 over A100).
  const match = matchGpu(catalog.gpus, name);
  if (match) return match;
  throw new UsageError(`unknown GPU "${name}" (allowed: ${catalog.gpus.map((g) => g.id).join(', ')})`, field);
}

/** The catalog entry a reported device name belongs to, or undefined (never throws). */
export function tryFindGpu(catalog: GpuCatalog, name: string): GpuEntry | undefined {
  try {
    return findGpu(catalog, name);
  } catch {
    return undefined;
  }
}

/** True when measurements taken on `deviceNames` describe `gpu`. */
export function measuredOn(catalog: GpuCatalog, deviceNames: string[], gpu: GpuEntry): boolean {
  return deviceNames.some((d) => tryFindGpu(catalog, d)?.id === gpu.id);
}

/** The dense peak for the precision the GEMMs run in, TFLOP/s. */
export function peakTflops(gpu: GpuEntry, precision: Precision): number {
  const key = precision;
  const v = gpu.tflops[key] ?? (key === 'bf16' ? gpu.tflops.fp16 : key === 'fp16' ? gpu.tflops.bf16 : undefined);
  if (v === undefined) {
    throw new UsageError(`GPU ${gpu.id} has no ${precision} peak in the catalog (has: ${Object.keys(gpu.tflops).join(', ')})`, 'training.precision');
  }
  return v;
}

/** The 16-bit dense peak that MFU is quoted against (bf16, else fp16). */
export function peak16(gpu: GpuEntry): number {
  return gpu.tflops.bf16 ?? gpu.tflops.fp16 ?? Math.max(...Object.values(gpu.tflops));
}
