/**
 * One `gpubench estimate` invocation as a function: inputs in, the JSON document out.
 * The CLI command formats it; tests call it directly.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../harness/errors.js';
import { CONFIG_DIR, findGpu, loadGpuCatalog, measuredOn, peak16 } from './catalog.js';
import { busbwFromTime, collectiveTime, type Fabric } from './comm.js';
import { resolveModel, parameterCount, type ResolvedModel } from './flops.js';
import { ClusterSpec, ModelSpec, TrainingSpec, type Precision, type RecomputeMode, type RecomputeModule, type AttentionImpl } from './inputs.js';
import { dollarsPerPflopHour, loadInstances } from './instances.js';
import { readMeasurements, type Measurements } from './measured.js';
import { DEFAULT_PARAMS, EfficiencyParams } from './params.js';
import { resolveFabric, resolveTraining, type ResolvedTraining } from './resolve.js';
import { defaultSpace, searchLayouts } from './search.js';
import { networkWattsPerGpu, sizeSite, timeToTrain, type SiteSizing } from './site.js';
import { DEFAULT_RELIABILITY, ReliabilitySpec, estimateGoodput, type Goodput } from './goodput.js';
import { estimateStep, type StepEstimate } from './step.js';
import { parseOrThrow, readYamlFile } from './validate-input.js';

/** A model file: the architecture plus optional training defaults. */
export const ModelFile = ModelSpec.extend({ training: TrainingSpec.partial().optional() });

/** Overrides from the command line; each wins over the model file's `training`. */
export interface EstimateOptions {
  model: string;
  cluster?: string;
  gpu?: string;
  gpus?: number;
  tp?: number;
  pp?: number;
  dp?: number;
  cp?: number;
  microBatch?: number;
  globalBatch?: number;
  virtualStages?: number;
  seqLength?: number;
  recompute?: RecomputeMode;
  /** What selective recompute runs again (implies recompute: selective). */
  recomputeModules?: RecomputeModule[];
  precision?: Precision;
  sequenceParallel?: boolean;
  attention?: AttentionImpl;
  distributedOptimizer?: boolean;
  fsdp?: boolean;
  ep?: number;
  trainTokens?: number;
  /** Reliability overrides (failure rate, checkpoint interval, storage bandwidth, restart). */
  failuresPerGpuHour?: number;
  checkpointIntervalS?: number;
  storageGBps?: number;
  restartSeconds?: number;
  measured?: string[];
  search?: boolean;
  top?: number;
  sitePowerWatts?: number;
  allreduceBytes?: number;
  instances?: boolean;
  instancesFile?: string;
  paramsFile?: string;
}

/** Finds `configs/<dir>/<name>.yaml` for a bare name, or takes a path as it is. */
export function resolveConfigPath(nameOrPath: string, dir: string, option: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const p = resolve(CONFIG_DIR, dir, `${nameOrPath.replace(/\.ya?ml$/, '')}.yaml`);
  if (existsSync(p)) return p;
  throw new UsageError(`no such file or preset "${nameOrPath}" (presets live in configs/${dir}/)`, option);
}

/** Efficiency parameters: defaults, overridden by a YAML file of the same fields. */
export function loadParams(path?: string): EfficiencyParams {
  if (!path) return DEFAULT_PARAMS;
  return parseOrThrow(EfficiencyParams, readYamlFile(path, '--params') ?? {}, path);
}

function summarize(e: StepEstimate) {
  return {
    stepSeconds: e.stepSeconds,
    stepSecondsRange: e.range,
    tokensPerSecond: e.tokensPerSecond,
    tflopsPerGpu: { model: e.modelTflopsPerGpu, hardware: e.hardwareTflopsPerGpu },
    mfu: e.mfu,
    hfu: e.hfu,
    aggregatePflops: e.aggregatePflops,
    flopsPerStep: e.flops,
    breakdown: e.breakdown,
    memory: e.memory,
  };
}

function layoutOf(t: ResolvedTraining) {
  const { tp, pp, dp, cp, microBatch, virtualStages, recompute, recomputeModules, sequenceParallel, distributedOptimizer, microBatches, globalBatch, fsdp, fsdpShard, ep, etp, epCommOverlap, epDispatch, tpCommOverlap, precision } = t;
  return { tp, pp, dp, cp, microBatch, virtualStages, microBatches, globalBatch, recompute, ...(recomputeModules && { recomputeModules }), sequenceParallel, distributedOptimizer, fsdp, ...(fsdpShard !== undefined && { fsdpShard }), ep, ...(etp !== undefined && { etp }), ...(epCommOverlap !== undefined && { epCommOverlap }), ...(epDispatch !== undefined && { epDispatch }), ...(tpCommOverlap !== undefined && { tpCommOverlap }), precision };
}

/** The estimate summary shared by the main estimate and the site's job. */
export type EstimateSummary = ReturnType<typeof summarize>;
/** A layout as it appears in the output. */
export type LayoutSummary = ReturnType<typeof layoutOf>;

/** Time, energy and cost to train, with the uncertainty range on days. */
export type TimeToTrain = ReturnType<typeof timeToTrain> & { tokens: number; modelFlops?: number; range?: { days: [number, number] } };

/** One row of the cloud instance comparison. */
export interface InstanceRow {
  id: string;
  provider: string;
  gpu: string;
  gpusPerInstance: number;
  price: { perHour: number; perGpuHour: number; kind: string; date: string; source: string; verified: boolean };
  matmulTflops: { value: number; source: string };
  busbwGBps: { intraNode: number; interNodePerGpu: number; source: string };
  dollarsPerPflopHourMatmul: number;
  training?: { gpus: number; layout: LayoutSummary; mfu: number; tflopsPerGpu: number; fits: boolean; dollarsPerPflopHour: number } | { error: string };
  timeToTrain?: { days: number; costUSD: number };
  assumed: string[];
}

/** The document `gpubench estimate --json` writes (schema `gpubench.estimate/v1`). */
export interface EstimateDoc {
  schema: 'gpubench.estimate/v1';
  inputs: {
    model: ResolvedModel & { file: string; parameters: number; activeParameters: number };
    cluster: { file: string; name?: string; gpu: string; gpus: number; gpusPerNode: number; fabric: Fabric };
    training: LayoutSummary;
    params: EfficiencyParams;
  };
  sources: { peaks: string; gemm: 'measured' | 'catalog'; intraNode: string; interNode: string; measured: string[] };
  assumed: string[];
  estimate: EstimateSummary;
  timeToTrain?: TimeToTrain;
  /** Failures and checkpoints on this job; with --train-tokens, time-to-train with failures. */
  goodput?: Goodput;
  allreduce?: { bytes: number; gpus: number; seconds: number; algbwGBps: number; busbwGBps: number; note: string };
  search?: {
    evaluated: number;
    rejectedMemory: number;
    elapsedMs: number;
    best: { layout: LayoutSummary; stepSeconds: number; mfu: number; tflopsPerGpu: number; memoryGB: number }[];
  };
  site?: SiteSizing & {
    assumed: string[];
    job: EstimateSummary & { gpus: number; layout: LayoutSummary; sustainedEflops: number };
    timeToTrain?: TimeToTrain;
    goodput?: Goodput;
  };
  instances?: InstanceRow[];
}

/** Runs the estimate and returns the JSON document (schema `gpubench.estimate/v1`). */
export function runEstimate(o: EstimateOptions): EstimateDoc {
  const params = loadParams(o.paramsFile);
  const catalog = loadGpuCatalog();
  const modelPath = resolveConfigPath(o.model, 'models', '--model');
  const mf = parseOrThrow(ModelFile, readYamlFile(modelPath, '--model'), modelPath);
  const clusterPath = resolveConfigPath(o.cluster ?? 'h100-16k', 'clusters', '--cluster');
  const cluster = parseOrThrow(ClusterSpec, readYamlFile(clusterPath, '--cluster'), clusterPath);
  const gpu = findGpu(catalog, o.gpu ?? cluster.gpu, o.gpu ? '--gpu' : 'gpu');
  const assumed: string[] = [];
  const allMeasured: Measurements | undefined = o.measured?.length ? readMeasurements(o.measured) : undefined;
  // Measurements describe the GPU they were taken on; for another GPU they are set aside, and said so.
  let measured = allMeasured;
  if (allMeasured && allMeasured.devices.length && !measuredOn(catalog, allMeasured.devices, gpu)) {
    measured = undefined;
    assumed.push(`measured results set aside: taken on ${allMeasured.devices.join(', ')}, not ${gpu.id}`);
  }
  const model = resolveModel({ ...mf, seqLength: o.seqLength ?? mf.seqLength });
  const gpus = o.gpus ?? (cluster.nodes ? cluster.nodes * cluster.gpusPerNode : undefined);
  if (!gpus) throw new UsageError('give --gpus or set nodes in the cluster file', '--gpus');
  if (gpus % cluster.gpusPerNode !== 0 && gpus > cluster.gpusPerNode) assumed.push(`gpus ${gpus} is not a whole number of ${cluster.gpusPerNode}-GPU nodes`);
  const tIn = mf.training ?? {};
  const globalBatch = o.globalBatch ?? tIn.globalBatchSequences;
  if (!globalBatch) throw new UsageError('give --global-batch or training.globalBatchSequences in the model file', '--global-batch');
  // A recompute mode given here that is not selective leaves the model file's modules behind.
  const { recomputeModules: fileModules, ...tRest } = tIn;
  const keepModules = o.recomputeModules ?? (o.recompute === undefined || o.recompute === 'selective' ? fileModules : undefined);
  const spec = TrainingSpec.parse({
    ...tRest,
    ...(keepModules !== undefined && { recomputeModules: keepModules }),
    globalBatchSequences: globalBatch,
    ...(o.tp !== undefined && { tp: o.tp }),
    ...(o.pp !== undefined && { pp: o.pp }),
    ...(o.cp !== undefined && { cp: o.cp }),
    ...(o.microBatch !== undefined && { microBatch: o.microBatch }),
    ...(o.virtualStages !== undefined && { virtualStages: o.virtualStages }),
    ...(o.recompute !== undefined && { recompute: o.recompute }),
    // --recompute-modules is selective recompute, whatever the model file's mode.
    ...(o.recomputeModules !== undefined && o.recompute === undefined && { recompute: 'selective' as const }),
    ...(o.precision !== undefined && { precision: o.precision }),
    ...(o.sequenceParallel !== undefined && { sequenceParallel: o.sequenceParallel }),
    ...(o.attention !== undefined && { attention: o.attention }),
    ...(o.distributedOptimizer !== undefined && { distributedOptimizer: o.distributedOptimizer }),
    ...(o.fsdp !== undefined && { fsdp: o.fsdp }),
    ...(o.ep !== undefined && { ep: o.ep }),
  });
  // The model file's dp belongs to its own GPU count: drop it unless given here.
  spec.dp = o.dp;
  const training = resolveTraining(spec, gpus, gpu, model.heads, model.layers, assumed, 'training', false, model.moe?.experts, model.mla !== undefined);
  const fabric: Fabric = resolveFabric(gpu, cluster.gpusPerNode, cluster.interconnect, params, assumed, measured, cluster.topology.oversubscription, {
    intraUs: cluster.intraNodeLatencyUs,
    interUs: cluster.interNodeLatencyUs,
  });
  const est = estimateStep({ model, training, gpu, gpus, fabric, params, measuredGemms: measured?.gemms ?? [] });
  if (!est.memory.fits && !o.search) {
    const m = est.memory;
    throw new UsageError(
      `configuration does not fit: ${m.totalGB.toFixed(1)} GB per GPU needed, ${m.capacityGB.toFixed(1)} GB on ${gpu.id} ` +
        `(weights ${m.weightsGB.toFixed(1)}, gradients ${m.gradientsGB.toFixed(1)}, optimizer ${m.optimizerGB.toFixed(1)}, activations ${m.activationsGB.toFixed(1)}, reserve ${m.reserveGB}); ` +
        'raise tp or pp, use --recompute full, --distributed-optimizer, a smaller --micro-batch, or --search',
      'training',
    );
  }

  const power = cluster.power;
  const gpuWatts = power.gpuWatts ?? gpu.watts;
  const sitePower = {
    gpuWatts, nodeOverheadWatts: power.nodeOverheadWatts, perGpuInfraWatts: power.perGpuInfraWatts, pue: power.pue, gpusPerNode: cluster.gpusPerNode, gpusPerRack: cluster.gpusPerRack,
    networkWattsPerGpu: power.network ? networkWattsPerGpu(power.network) : 0,
  };
  const reliability = ReliabilitySpec.parse({
    ...DEFAULT_RELIABILITY,
    ...cluster.reliability,
    ...(o.failuresPerGpuHour !== undefined && { failuresPerGpuHour: o.failuresPerGpuHour }),
    ...(o.checkpointIntervalS !== undefined && { checkpointIntervalS: o.checkpointIntervalS }),
    ...(o.storageGBps !== undefined && { storageWriteGBps: o.storageGBps, storageReadGBps: o.storageGBps }),
    ...(o.restartSeconds !== undefined && { restartSeconds: o.restartSeconds }),
  });
  const facilityWattsPerGpu = sizeSite(1, sitePower, 1).facilityWattsPerGpu;
  const pk = peak16(gpu);
  const trainTokens = o.trainTokens ?? tIn.trainTokens;
  const flopsPerToken = est.flops.model / (training.globalBatch * model.seqLength);

  const doc: EstimateDoc = {
    schema: 'gpubench.estimate/v1',
    inputs: {
      model: { file: modelPath, ...model, parameters: parameterCount(model).total, activeParameters: parameterCount(model).active },
      cluster: { file: clusterPath, name: cluster.name, gpu: gpu.id, gpus, gpusPerNode: cluster.gpusPerNode, fabric },
      training: layoutOf(training),
      params,
    },
    sources: {
      peaks: `catalog ${gpu.id}: ${training.precision} ${gpu.tflops[training.precision] ?? pk} TFLOP/s dense, gemmFraction ${gpu.gemmFraction}`,
      gemm: est.gemmSource,
      intraNode: fabric.intra.source,
      interNode: fabric.inter.source,
      measured: measured?.notes ?? [allMeasured ? 'results files set aside (another GPU): every rate from the catalog and the efficiency parameters' : 'no results files given: every rate from the catalog and the efficiency parameters'],
    },
    assumed,
    estimate: summarize(est),
  };
  if (trainTokens) {
    const fl = flopsPerToken * trainTokens;
    const ttt = timeToTrain(fl, gpus, est.modelTflopsPerGpu, facilityWattsPerGpu, cluster.pricePerGpuHour);
    doc.timeToTrain = { tokens: trainTokens, modelFlops: fl, ...ttt, range: { days: [ttt.days * (1 - params.uncertainty), ttt.days * (1 + params.uncertainty)] } };
  }
  doc.goodput = estimateGoodput(gpus, parameterCount(model).total, reliability, doc.timeToTrain?.seconds);
  if (o.allreduceBytes) {
    const seconds = collectiveTime('allreduce', o.allreduceBytes, gpus, 1, fabric);
    doc.allreduce = {
      bytes: o.allreduceBytes,
      gpus,
      seconds,
      algbwGBps: o.allreduceBytes / seconds / 1e9,
      busbwGBps: busbwFromTime('allreduce', o.allreduceBytes, gpus, seconds),
      note: 'hierarchical: reduce-scatter in the node, all-reduce of 1/g across nodes (one NIC per GPU), all-gather in the node',
    };
  }
  if (o.search) {
    const out = searchLayouts({
      model, gpu, gpus, fabric, params, globalBatch: training.globalBatch,
      base: { precision: training.precision, sequenceParallel: true, attention: training.attention, distributedOptimizer: training.distributedOptimizer, fsdp: training.fsdp, ep: training.ep, ...(training.fsdpShard !== undefined && { fsdpShard: training.fsdpShard }), ...(training.epCommOverlap !== undefined && { epCommOverlap: training.epCommOverlap }), ...(training.epDispatch !== undefined && { epDispatch: training.epDispatch }), ...(training.tpCommOverlap !== undefined && { tpCommOverlap: training.tpCommOverlap }) },
      space: defaultSpace(model, cluster.gpusPerNode, model.seqLength >= 16384),
      measuredGemms: measured?.gemms ?? [],
      top: o.top ?? 10,
    });
    doc.search = {
      evaluated: out.evaluated,
      rejectedMemory: out.rejectedMemory,
      elapsedMs: Math.round(out.elapsedMs),
      best: out.best.map((r) => ({ layout: layoutOf(r.training), stepSeconds: r.estimate.stepSeconds, mfu: r.estimate.mfu, tflopsPerGpu: r.estimate.modelTflopsPerGpu, memoryGB: r.estimate.memory.totalGB })),
    };
  }
  if (o.sitePowerWatts) {
    const site = sizeSite(o.sitePowerWatts, sitePower, pk);
    // One job across the whole site: the same layout per replica, DP grown to fill it, the
    // global batch grown with DP (sequences per replica kept).
    const replica = training.tp * training.pp * training.cp;
    const siteDp = Math.floor(site.gpus / replica);
    const siteBatch = Math.max(training.globalBatch, (training.globalBatch / training.dp) * siteDp);
    const siteAssumed = [`one job: layout per replica kept (tp ${training.tp}, pp ${training.pp}, cp ${training.cp}), dp ${siteDp}, global batch ${siteBatch} sequences`];
    const siteTraining = { ...training, dp: siteDp, globalBatch: siteBatch };
    const siteGpus = siteDp * replica;
    const siteEst = estimateStep({ model, training: siteTraining, gpu, gpus: siteGpus, fabric, params, measuredGemms: measured?.gemms ?? [] });
    const siteDoc: NonNullable<EstimateDoc['site']> = {
      ...site,
      assumed: siteAssumed,
      job: { gpus: siteGpus, layout: layoutOf(siteTraining), ...summarize(siteEst), sustainedEflops: (siteEst.modelTflopsPerGpu * siteGpus) / 1e6 },
    };
    if (trainTokens) {
      const fl = flopsPerToken * trainTokens;
      siteDoc.timeToTrain = { tokens: trainTokens, ...timeToTrain(fl, siteGpus, siteEst.modelTflopsPerGpu, site.facilityWattsPerGpu, cluster.pricePerGpuHour) };
    }
    siteDoc.goodput = estimateGoodput(siteGpus, parameterCount(model).total, reliability, siteDoc.timeToTrain?.seconds);
    doc.site = siteDoc;
  }
  if (o.instances) {
    doc.instances = compareInstances(o, { model, training, params, measured: allMeasured, trainTokens, flopsPerToken, gpus });
  }
  return doc;
}

/** The instance comparison table: one row per preset at the run's GPU count. */
function compareInstances(
  o: EstimateOptions,
  ctx: { model: ResolvedModel; training: ResolvedTraining; params: EfficiencyParams; measured?: Measurements; trainTokens?: number; flopsPerToken: number; gpus: number },
): InstanceRow[] {
  const catalog = loadGpuCatalog();
  return loadInstances(o.instancesFile).map((inst, i) => {
    const gpu = findGpu(catalog, inst.gpu, `instances[${i}].gpu`);
    const assumed: string[] = [];
    const m = ctx.measured && measuredOn(catalog, ctx.measured.devices, gpu) ? ctx.measured : undefined;
    const fabric = resolveFabric(gpu, inst.gpus, inst.interconnect, ctx.params, assumed, m);
    const perGpuHour = inst.pricePerHour / inst.gpus;
    const large = m?.gemms.filter((g) => g.precision === ctx.training.precision).sort((a, b) => b.tflops - a.tflops)[0];
    const matmulTflops = large ? large.tflops : peak16(gpu) * gpu.gemmFraction;
    const row: InstanceRow = {
      id: inst.id,
      provider: inst.provider,
      gpu: gpu.id,
      gpusPerInstance: inst.gpus,
      price: { perHour: inst.pricePerHour, perGpuHour: perGpuHour, kind: inst.priceKind, date: inst.priceDate, source: inst.priceSource, verified: inst.verified },
      matmulTflops: { value: matmulTflops, source: large ? `measured (${large.caseId})` : 'catalog peak × gemmFraction' },
      busbwGBps: { intraNode: fabric.intra.busbwGBps, interNodePerGpu: fabric.inter.busbwGBps, source: `${fabric.intra.source}/${fabric.inter.source}` },
      dollarsPerPflopHourMatmul: dollarsPerPflopHour(perGpuHour, matmulTflops),
      assumed,
    };
    try {
      const tr = resolveTraining(
        { globalBatchSequences: ctx.training.globalBatch, microBatch: ctx.training.microBatch, tp: Math.min(ctx.training.tp, inst.gpus), pp: ctx.training.pp, cp: ctx.training.cp, recompute: ctx.training.recompute, ...(ctx.training.recomputeModules && { recomputeModules: ctx.training.recomputeModules as [RecomputeModule, ...RecomputeModule[]] }), precision: ctx.training.precision === 'fp16' || ctx.training.precision === 'bf16' ? ctx.training.precision : 'bf16', sequenceParallel: ctx.training.sequenceParallel },
        ctx.gpus, gpu, ctx.model.heads, ctx.model.layers, assumed, 'training', false, ctx.model.moe?.experts, ctx.model.mla !== undefined,
      );
      let est = estimateStep({ model: ctx.model, training: tr, gpu, gpus: ctx.gpus, fabric, params: ctx.params, measuredGemms: m?.gemms ?? [] });
      let layout = layoutOf(tr);
      if (!est.memory.fits) {
        // The requested layout does not fit this GPU's memory: take the fastest one that does.
        const found = searchLayouts({
          model: ctx.model, gpu, gpus: ctx.gpus, fabric, params: ctx.params, globalBatch: tr.globalBatch,
          base: { precision: tr.precision, sequenceParallel: true, attention: tr.attention, distributedOptimizer: true },
          space: defaultSpace(ctx.model, inst.gpus, ctx.model.seqLength >= 16384),
          measuredGemms: m?.gemms ?? [], top: 1,
        }).best[0];
        if (!found) throw new UsageError(`no layout of ${ctx.model.layers} layers fits ${ctx.gpus} x ${gpu.id}`, `instances[${i}]`);
        est = found.estimate;
        layout = layoutOf(found.training);
        assumed.push(`layout from --search (the requested one needs ${est.memory.totalGB.toFixed(0)} GB)`);
      }
      row.training = { gpus: ctx.gpus, layout, mfu: est.mfu, tflopsPerGpu: est.modelTflopsPerGpu, fits: est.memory.fits, dollarsPerPflopHour: dollarsPerPflopHour(perGpuHour, est.modelTflopsPerGpu) };
      if (ctx.trainTokens) {
        const days = (ctx.flopsPerToken * ctx.trainTokens) / (ctx.gpus * est.modelTflopsPerGpu * 1e12) / 86400;
        row.timeToTrain = { days, costUSD: days * 24 * ctx.gpus * perGpuHour };
      }
    } catch (err) {
      row.training = { error: err instanceof Error ? err.message : String(err) };
    }
    return row;
  });
}

