/**
 * Cloud instance presets (`configs/instances.yaml`): GPU, count, interconnect, network
 * and price, each price with its date and source, and the comparison table: measured
 * (or catalog) TFLOP/s and busbw, $ per PFLOP-hour, time and cost to train a model.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { CONFIG_DIR } from './catalog.js';
import { InterconnectSpec } from './inputs.js';
import { parseOrThrow, readYamlFile } from './validate-input.js';

export const InstancePreset = z.object({
  id: z.string(),
  provider: z.string(),
  gpu: z.string(),
  gpus: z.number().int().positive(),
  interconnect: InterconnectSpec,
  /** USD per instance-hour. */
  pricePerHour: z.number().positive(),
  priceKind: z.enum(['on-demand', 'capacity-block', 'reserved-1y', 'spot']).default('on-demand'),
  /** When the price was read (YYYY-MM or YYYY-MM-DD). */
  priceDate: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/),
  priceSource: z.string(),
  /** False when the figure comes from a secondary source and should be checked. */
  verified: z.boolean().default(false),
}).strict();
export type InstancePreset = z.infer<typeof InstancePreset>;

export const InstanceFile = z.object({
  schema: z.literal('gpubench.instances/v1'),
  instances: z.array(InstancePreset).min(1),
}).strict();

/** Loads instance presets (default: the shipped `configs/instances.yaml`). */
export function loadInstances(path?: string): InstancePreset[] {
  const file = path ?? resolve(CONFIG_DIR, 'instances.yaml');
  return parseOrThrow(InstanceFile, readYamlFile(file, '--instances'), file).instances;
}

/** $ per PFLOP-hour of sustained work: price per GPU-hour / sustained PFLOP/s per GPU. */
export function dollarsPerPflopHour(pricePerGpuHour: number, tflopsPerGpu: number): number {
  return pricePerGpuHour / (tflopsPerGpu / 1000);
}
