/**
 * `estimate --validate`: predict every run of a published-runs file
 * (`gpubench.published-runs/v1`) and compare with what was published, on the FLOP basis
 * the source used (`hardware` counts recompute FLOPs, `model` does not).
 */
import { z } from 'zod';
import { UsageError } from '../harness/errors.js';
import { findGpu, loadGpuCatalog, measuredOn, type GpuCatalog } from './catalog.js';
import { resolveModel } from './flops.js';
import { InterconnectSpec, ModelSpec, TrainingSpec } from './inputs.js';
import type { Measurements } from './measured.js';
import { DEFAULT_PARAMS, type EfficiencyParams } from './params.js';
import { resolveFabric, resolveTraining } from './resolve.js';
import { estimateStep, type StepEstimate } from './step.js';
import { parseOrThrow, readYamlFile } from './validate-input.js';

export const PublishedRun = z.object({
  id: z.string(),
  source: z.string().optional(),
  gpu: z.string(),
  gpus: z.number().int().positive(),
  gpusPerNode: z.number().int().positive().optional(),
  interconnect: InterconnectSpec.optional(),
  model: ModelSpec,
  training: TrainingSpec,
  published: z.object({
    tflopsPerGPU: z.number().positive().optional(),
    flopsBasis: z.enum(['hardware', 'model']).optional(),
    /** How attention FLOPs were counted, when a source says (default full s×s). */
    attentionFlops: z.enum(['full', 'causal']).optional(),
    mfu: z.number().optional(),
    pctOfPeak: z.number().optional(),
    iterationSeconds: z.number().positive().optional(),
    /** Training throughput per GPU, tokens/s: compared on tokens/s when no TFLOP/s or MFU is published. */
    tokensPerSecondPerGPU: z.number().positive().optional(),
  }).passthrough(),
  notes: z.string().optional(),
  /** Family for the per-family MAPE; inferred (moe if the model has experts, fsdp if training.fsdp, else dense). */
  family: z.enum(['dense', 'moe', 'fsdp']).optional(),
}).passthrough();
export type PublishedRun = z.infer<typeof PublishedRun>;

export const PublishedRunsFile = z.object({
  schema: z.literal('gpubench.published-runs/v1'),
  runs: z.array(PublishedRun).min(1),
}).passthrough();
export type PublishedRunsFile = z.infer<typeof PublishedRunsFile>;

/** One row of the validation output. */
export interface ValidationRow {
  id: string;
  family: 'dense' | 'moe' | 'fsdp';
  /** What errorPct compares: TFLOP/s per GPU, or tokens/s per GPU. */
  compared: 'tflopsPerGPU' | 'tokensPerSecondPerGPU';
  predicted: { tflopsPerGPU: number; mfu: number; hfu: number; iterationSeconds: number; flopsBasis: 'hardware' | 'model'; tokensPerSecondPerGPU?: number };
  published: PublishedRun['published'];
  assumed: string[];
  /** (predicted − published) / published × 100 on tflopsPerGPU; null when not published. */
  errorPct: number | null;
  breakdown: StepEstimate['breakdown'];
  memoryGB: number;
  fits: boolean;
  /** Set when this run could not be predicted (unknown GPU, inconsistent layout). */
  error?: string;
}

export interface ValidationReport {
  file: string;
  runs: ValidationRow[];
  /** Mean absolute percentage error of per-GPU TFLOP/s over runs that publish it. */
  mape: number | null;
  /** The same per family (dense, moe, fsdp), with the number of runs. */
  mapeByFamily: Record<string, { mape: number; runs: number }>;
  params: EfficiencyParams;
}

/** Predicts one published run. */
export function predictPublishedRun(run: PublishedRun, opts: { params?: EfficiencyParams; catalog?: GpuCatalog; measured?: Measurements } = {}, index = 0): ValidationRow {
  const params = opts.params ?? DEFAULT_PARAMS;
  const catalog = opts.catalog ?? loadGpuCatalog();
  const where = `runs[${index}]`;
  const assumed: string[] = [];
  const gpu = findGpu(catalog, run.gpu, `${where}.gpu`);
  const model = resolveModel(run.model);
  if (run.model.kvHeads === undefined) assumed.push('kvHeads=heads');
  if (run.model.ffnHidden === undefined) assumed.push(`ffnHidden=${model.ffnHidden}`);
  const training = resolveTraining(run.training, run.gpus, gpu, model.heads, model.layers, assumed, `${where}.training`, true, model.moe?.experts, model.mla !== undefined);
  const layoutGpus = training.tp * training.pp * training.dp * training.cp;
  const gpusPerNode = run.gpusPerNode ?? 8;
  if (run.gpusPerNode === undefined) assumed.push('gpusPerNode=8');
  // Measurements count only for runs on the GPU they were taken on.
  const measured = opts.measured && measuredOn(catalog, opts.measured.devices, gpu) ? opts.measured : undefined;
  const fabric = resolveFabric(gpu, gpusPerNode, run.interconnect ?? {}, params, assumed, measured);
  const basis = run.published.flopsBasis ?? 'model';
  if (run.published.flopsBasis === undefined) assumed.push('flopsBasis=model');
  const est = estimateStep({
    model, training, gpu, gpus: layoutGpus, fabric, params,
    measuredGemms: measured?.gemms ?? [],
    attentionCounting: run.published.attentionFlops ?? 'full',
  });
  if (!est.memory.fits) assumed.push(`memory model says ${est.memory.totalGB.toFixed(0)} GB > ${est.memory.capacityGB.toFixed(0)} GB: the source must use something not modelled`);
  const tflops = basis === 'hardware' ? est.hardwareTflopsPerGpu : est.modelTflopsPerGpu;
  let pub = run.published.tflopsPerGPU;
  if (pub === undefined && run.published.mfu !== undefined && run.published.tokensPerSecondPerGPU === undefined) {
    // Only MFU published: compare on TFLOP/s = MFU × the 16-bit dense peak (MFU given as a fraction or a percent).
    const mfu = run.published.mfu > 1 ? run.published.mfu / 100 : run.published.mfu;
    pub = mfu * est.peak16Tflops;
    assumed.push(`published tflopsPerGPU taken as mfu × ${est.peak16Tflops} = ${pub.toFixed(1)}`);
  }
  const tokensPerGpu = est.tokensPerSecond / layoutGpus;
  const byTokens = pub === undefined && run.published.tokensPerSecondPerGPU !== undefined;
  const pubTok = run.published.tokensPerSecondPerGPU;
  let errorPct: number | null = pub ? round(((tflops - pub) / pub) * 100, 2) : null;
  if (byTokens && pubTok) errorPct = round(((tokensPerGpu - pubTok) / pubTok) * 100, 2);
  return {
    id: run.id,
    family: familyOf(run),
    compared: byTokens ? 'tokensPerSecondPerGPU' : 'tflopsPerGPU',
    predicted: { tflopsPerGPU: round(tflops, 2), mfu: round(est.mfu, 4), hfu: round(est.hfu, 4), iterationSeconds: round(est.stepSeconds, 4), flopsBasis: basis, tokensPerSecondPerGPU: round(tokensPerGpu, 1) },
    published: run.published,
    assumed,
    errorPct,
    breakdown: est.breakdown,
    memoryGB: round(est.memory.totalGB, 1),
    fits: est.memory.fits,
  };
}

/** The run's family: given, or moe when the model has experts, fsdp when training.fsdp, else dense. */
export function familyOf(run: PublishedRun): 'dense' | 'moe' | 'fsdp' {
  return run.family ?? (run.model.moe ? 'moe' : run.training.fsdp ? 'fsdp' : 'dense');
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Validates every run of a published-runs file. */
export function validatePublishedRuns(path: string, opts: { params?: EfficiencyParams; catalog?: GpuCatalog; measured?: Measurements } = {}): ValidationReport {
  const file = parseOrThrow(PublishedRunsFile, readYamlFile(path, '--validate'), path);
  // One run the model cannot place (a GPU not in the catalog, a layout that does not add
  // up) is reported in its row; the others are still predicted.
  const runs = file.runs.map((r, i) => {
    try {
      return predictPublishedRun(r, opts, i);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      const row: ValidationRow = {
        id: r.id,
        family: familyOf(r),
        compared: 'tflopsPerGPU',
        predicted: { tflopsPerGPU: NaN, mfu: NaN, hfu: NaN, iterationSeconds: NaN, flopsBasis: r.published.flopsBasis ?? 'model' },
        published: r.published,
        assumed: [],
        errorPct: null,
        breakdown: {} as ValidationRow['breakdown'],
        memoryGB: NaN,
        fits: false,
        error: err.message,
      };
      return row;
    }
  });
  const errs = runs.map((r) => r.errorPct).filter((e): e is number => e !== null);
  const mape = errs.length ? round(errs.reduce((a, e) => a + Math.abs(e), 0) / errs.length, 2) : null;
  const mapeByFamily: ValidationReport['mapeByFamily'] = {};
  for (const fam of ['dense', 'moe', 'fsdp']) {
    const e = runs.filter((r) => r.family === fam && r.errorPct !== null).map((r) => Math.abs(r.errorPct!));
    if (e.length) mapeByFamily[fam] = { mape: round(e.reduce((a, x) => a + x, 0) / e.length, 2), runs: e.length };
  }
  return { file: path, runs, mape, mapeByFamily, params: opts.params ?? DEFAULT_PARAMS };
}
