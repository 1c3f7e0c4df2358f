/**
 * Acceptance profiles (`configs/acceptance/*.yaml`, `gpubench run --acceptance NAME|FILE`):
 * the floors a node of one GPU model must clear, each with the source that justifies it.
 * A floor is absolute (`min`) or a share of a datasheet peak of the profile's GPU in the
 * catalog (`pctOfPeak` of `peak`, e.g. `tflops.bf16` or `memoryGBps` of configs/gpus.yaml),
 * so the numbers stay tied to their sources. Validated by zod: a bad field is exit 2 naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseCasePattern } from './case-pattern.js';
import { UsageError } from './errors.js';
import { floorMetric, FLOOR_METRICS, type Floor } from './floors.js';
import { loadCatalog, matchGpu, type GpuEntry } from './peaks.js';
import { formatPath } from './suite.js';
import { PACKAGE_ROOT } from './version.js';

/** Version tag of acceptance profiles. */
export const ACCEPTANCE_SCHEMA = 'gpubench.acceptance/v1';

const FloorEntry = z.strictObject({
  /** Cases the floor applies to: a workload name or a case-id glob. */
  case: z.string().min(1),
  /** A metric name (tflops, pctOfPeak, busbw, algbw, bandwidth, …). */
  metric: z.string().refine((m) => floorMetric(m) !== undefined, { message: `unknown metric; allowed: ${Object.keys(FLOOR_METRICS).join(', ')}` }),
  /** An absolute floor in the metric's unit. */
  min: z.number().nonnegative().optional(),
  /** A floor as a percentage of `peak` of the profile's GPU. */
  pctOfPeak: z.number().positive().max(100).optional(),
  /** The catalog field `pctOfPeak` refers to: `tflops.<dtype>`, `memoryGBps` or `nvlinkGBps`. */
  peak: z.string().regex(/^(tflops\.[a-z0-9]+|memoryGBps|nvlinkGBps)$/, 'expected tflops.<dtype>, memoryGBps or nvlinkGBps').optional(),
  /** Why this floor: a datasheet, a published measurement, a maintainer's figure. */
  source: z.string().min(1),
}).refine((f) => (f.min !== undefined) !== (f.pctOfPeak !== undefined), { message: 'give either min or pctOfPeak (with peak), not both or neither', path: ['min'] })
  .refine((f) => f.pctOfPeak === undefined || f.peak !== undefined, { message: 'pctOfPeak needs peak (tflops.<dtype>, memoryGBps or nvlinkGBps)', path: ['peak'] });

/** The schema of an acceptance profile. */
export const AcceptanceProfile = z.strictObject({
  $schema: z.string().optional(),
  schema: z.literal(ACCEPTANCE_SCHEMA),
  name: z.string().min(1),
  description: z.string().optional(),
  /** The catalog id (configs/gpus.yaml) of the GPU the profile is for; floors then apply only to cases on that GPU. Absent: any device (the CPU/CI profile). */
  gpu: z.string().min(1).optional(),
  /** How to run what the floors judge, for people. */
  run: z.string().optional(),
  floors: z.array(FloorEntry).min(1),
});
export type AcceptanceProfile = z.infer<typeof AcceptanceProfile>;

/** A loaded profile with its floors resolved to absolute values. */
export interface LoadedProfile {
  profile: AcceptanceProfile;
  path: string;
  floors: Floor[];
}

/** Where a profile named on the command line lives: a path, or a shipped name. */
export function profilePath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const shipped = join(PACKAGE_ROOT, 'configs', 'acceptance', `${nameOrPath.replace(/\.ya?ml$/, '')}.yaml`);
  if (existsSync(shipped)) return shipped;
  throw new UsageError(`no acceptance profile '${nameOrPath}' (a file, or one of configs/acceptance/*.yaml by name)`, '--acceptance');
}

function peakValue(gpu: GpuEntry, peak: string): number | undefined {
  if (peak.startsWith('tflops.')) return gpu.tflops[peak.slice('tflops.'.length)];
  const v = (gpu as Record<string, unknown>)[peak];
  return typeof v === 'number' ? v : undefined;
}

/**
 * Loads, validates and resolves a profile.
 * @throws UsageError naming `--acceptance`, the file and the field
 */
export function loadAcceptance(nameOrPath: string, catalog: GpuEntry[] = loadCatalog()): LoadedProfile {
  const path = profilePath(nameOrPath);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read acceptance profile ${path}: ${(err as Error).message}`, '--acceptance');
  }
  const parsed = AcceptanceProfile.safeParse(doc);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 5).map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new UsageError(`invalid acceptance profile ${path}: ${lines.join('; ')}`, '--acceptance');
  }
  const profile = parsed.data;
  let gpu: GpuEntry | undefined;
  if (profile.gpu !== undefined) {
    gpu = catalog.find((g) => g.id === profile.gpu);
    if (!gpu) throw new UsageError(`invalid acceptance profile ${path}: gpu: '${profile.gpu}' is not in the GPU catalog; known: ${catalog.map((g) => g.id).join(', ')}`, '--acceptance');
  }
  const floors = profile.floors.map((f, i): Floor => {
    const at = `floors[${i}]`;
    const pattern = parseCasePattern(f.case);
    if (!pattern) throw new UsageError(`invalid acceptance profile ${path}: ${at}.case: '${f.case}' is not a workload name or a case-id glob`, '--acceptance');
    let min = f.min;
    let basis: string | undefined;
    if (f.pctOfPeak !== undefined) {
      if (!gpu) throw new UsageError(`invalid acceptance profile ${path}: ${at}.pctOfPeak needs the profile's gpu (a catalog id)`, '--acceptance');
      const peak = peakValue(gpu, f.peak!);
      if (peak === undefined) throw new UsageError(`invalid acceptance profile ${path}: ${at}.peak: the catalog entry ${gpu.id} has no ${f.peak}`, '--acceptance');
      min = (f.pctOfPeak / 100) * peak;
      basis = `${f.pctOfPeak}% of ${peak} (${gpu.id} ${f.peak}, configs/gpus.yaml)`;
    }
    const entry = gpu;
    return {
      pattern,
      metric: floorMetric(f.metric)!.key,
      min: min!,
      from: `acceptance ${profile.name}: ${at}`,
      source: f.source,
      ...(basis ? { basis } : {}),
      ...(entry ? { device: { id: entry.id, matches: (name: string) => matchGpu(catalog, name)?.id === entry.id } } : {}),
    };
  });
  return { profile, path, floors };
}
