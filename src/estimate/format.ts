/** Plain-text rendering of estimate and validation documents for the terminal. */
import Table from 'cli-table3';
import type { EstimateDoc } from './run.js';
import type { ValidationReport } from './validate.js';

const PLAIN = { head: [] as string[], border: [] as string[] };
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** The validation table: one row per published run, then MAPE. */
export function formatValidation(r: ValidationReport): string {
  const t = new Table({ style: PLAIN, head: ['run', 'basis', 'pred TFLOP/s', 'published', 'error %', 'MFU', 'step s', 'assumed'] });
  for (const x of r.runs) {
    if (x.error) {
      t.push([x.id, x.predicted.flopsBasis, 'error', x.published.tflopsPerGPU ?? '-', '-', '-', '-', x.error.slice(0, 40)]);
      continue;
    }
    t.push([x.id, x.predicted.flopsBasis, f(x.predicted.tflopsPerGPU), x.published.tflopsPerGPU ?? '-', x.errorPct === null ? '-' : f(x.errorPct), f(x.predicted.mfu * 100) + '%', f(x.predicted.iterationSeconds, 2), x.assumed.length ? String(x.assumed.length) : '']);
  }
  const fams = Object.entries(r.mapeByFamily ?? {}).map(([k, v]) => `${k} ${f(v.mape, 2)}% (${v.runs})`).join(', ');
  return `${t.toString()}\nMAPE of per-GPU TFLOP/s: ${r.mape === null ? 'n/a' : f(r.mape, 2) + '%'} over ${r.runs.filter((x) => x.errorPct !== null).length} runs\n` +
    (fams && Object.keys(r.mapeByFamily).length > 1 ? `MAPE by family: ${fams}\n` : '');
}


/** The estimate as a few tables. */
export function formatEstimate(d: EstimateDoc): string {
  const out: string[] = [];
  const e = d.estimate;
  const i = d.inputs;
  const L = i.training;
  out.push(`${i.model.file.split('/').pop()} on ${i.cluster.gpus} x ${i.cluster.gpu}: tp ${L.tp} pp ${L.pp} (v ${L.virtualStages}) cp ${L.cp} dp ${L.dp}, micro-batch ${L.microBatch} x ${L.microBatches}, recompute ${L.recompute}${L.recomputeModules ? ` (${L.recomputeModules.join(', ')})` : ''}`);
  const t = new Table({ style: PLAIN });
  t.push(
    { 'step time': `${f(e.stepSeconds, 3)} s (${f(e.stepSecondsRange[0], 3)}–${f(e.stepSecondsRange[1], 3)})` },
    { 'tokens/s': f(e.tokensPerSecond, 0) },
    { 'TFLOP/s per GPU': `${f(e.tflopsPerGpu.model)} model, ${f(e.tflopsPerGpu.hardware)} hardware` },
    { 'MFU / HFU': `${f(e.mfu * 100)}% / ${f(e.hfu * 100)}%` },
    { 'aggregate': `${f(e.aggregatePflops, 0)} PFLOP/s (hardware)` },
    { 'memory per GPU': `${f(e.memory.totalGB)} of ${f(e.memory.capacityGB)} GB` },
  );
  out.push(t.toString());
  const b = new Table({ style: PLAIN, head: ['where the time goes', 's', '%'] });
  const total = e.stepSeconds;
  for (const [k, v] of Object.entries(e.breakdown)) if (v > 0) b.push([k, f(v, 3), f((100 * v) / total)]);
  out.push(b.toString());
  if (d.timeToTrain) {
    const x = d.timeToTrain;
    out.push(`time to train ${x.tokens.toExponential(2)} tokens: ${f(x.days)} days${x.range ? ` (${f(x.range.days[0])}–${f(x.range.days[1])})` : ''}, ${f(x.gpuHours / 1e6, 2)} M GPU-h, ${f(x.energyMWh, 0)} MWh${x.costUSD === null ? '' : `, $${f(x.costUSD / 1e6, 1)} M`}`);
  }
  if (d.goodput) out.push(goodputLine(d.goodput, ''));
  if (d.allreduce) out.push(`all-reduce of ${d.allreduce.bytes} B on ${d.allreduce.gpus} GPUs: ${f(d.allreduce.seconds * 1e3, 2)} ms, busbw ${f(d.allreduce.busbwGBps)} GB/s`);
  if (d.search) {
    const s = new Table({ style: PLAIN, head: ['tp', 'pp', 'v', 'cp', 'dp', 'mb', 'recompute', 'step s', 'MFU', 'mem GB'] });
    for (const r of d.search.best) s.push([r.layout.tp, r.layout.pp, r.layout.virtualStages, r.layout.cp, r.layout.dp, r.layout.microBatch, r.layout.recompute, f(r.stepSeconds, 3), f(r.mfu * 100) + '%', f(r.memoryGB)]);
    out.push(`search: ${d.search.evaluated} layouts in ${d.search.elapsedMs} ms (${d.search.rejectedMemory} do not fit)\n${s.toString()}`);
  }
  if (d.site) {
    const s = d.site;
    out.push(`site of ${f(s.budgetWatts / 1e9, 2)} GW: ${s.gpus.toLocaleString('en-US')} GPUs in ${s.nodes.toLocaleString('en-US')} nodes, ${s.racks.toLocaleString('en-US')} racks; ${f(s.facilityWattsPerGpu, 0)} W per GPU at the meter; peak ${f(s.peakEflops, 0)} EFLOP/s, sustained ${f(s.job.sustainedEflops, 0)} EFLOP/s at MFU ${f(s.job.mfu * 100)}%` +
      (s.timeToTrain ? `; the run takes ${f(s.timeToTrain.days, 1)} days there` : ''));
    if (s.goodput) out.push(goodputLine(s.goodput, 'site job: '));
  }
  if (d.instances) {
    const s = new Table({ style: PLAIN, head: ['instance', 'GPU', '$/GPU-h', 'price date', 'matmul TFLOP/s', 'busbw GB/s', '$/PFLOP-h', 'train MFU', 'days', 'cost $M'] });
    for (const r of d.instances) {
      const tr = r.training && 'mfu' in r.training ? r.training : undefined;
      s.push([
        r.id, r.gpu, f(r.price.perGpuHour, 2), r.price.date,
        `${f(r.matmulTflops.value, 0)}${r.matmulTflops.source.startsWith('measured') ? ' (m)' : ''}`,
        `${f(r.busbwGBps.intraNode, 0)}/${f(r.busbwGBps.interNodePerGpu, 0)}`,
        f(r.dollarsPerPflopHourMatmul, 2),
        tr ? `${f(tr.mfu * 100)}%${tr.fits ? '' : ' (no fit)'}` : '-',
        r.timeToTrain ? f(r.timeToTrain.days, 1) : '-',
        r.timeToTrain ? f(r.timeToTrain.costUSD / 1e6, 1) : '-',
      ]);
    }
    out.push(s.toString());
  }
  out.push(`sources: GEMM ${d.sources.gemm}, intra-node ${d.sources.intraNode}, inter-node ${d.sources.interNode}; ${d.sources.measured.join('; ')}`);
  if (d.assumed.length) out.push(`assumed: ${d.assumed.join('; ')}`);
  return out.join('\n') + '\n';
}

/** One paragraph on failures, checkpoints and goodput. */
function goodputLine(g: NonNullable<EstimateDoc['goodput']>, prefix: string): string {
  const mtbf = g.mtbfHours >= 1 ? `${f(g.mtbfHours, 2)} h` : `${f(g.mtbfHours * 60, 1)} min`;
  let line = `${prefix}goodput ${f(g.goodput * 100)}%: a failure every ${mtbf} on ${g.gpus.toLocaleString('en-US')} GPUs; checkpoint ${f(g.checkpointGB, 0)} GB, ` +
    `write ${f(g.writeSeconds, 1)} s, restore ${f(g.restoreSeconds, 1)} s, restart ${f(g.restartSeconds, 0)} s; every ${f(g.intervalSeconds / 60, 1)} min (${g.intervalSource === 'young' ? 'Young/Daly optimum' : 'given'}), ` +
    `${f(g.lostSecondsPerFailure / 60, 1)} min lost per failure`;
  if (g.train && Number.isFinite(g.train.days)) line += `\n  time to train with failures: ${f(g.train.days, 1)} days (${f(g.train.idealDays, 1)} without), ${f(g.train.failures, 0)} failures, ${f(g.train.checkpoints, 0)} checkpoints`;
  if (g.note) line += `\n  ${g.note}`;
  return line;
}
