/**
 * Reading measured results files (the `gpubench.results/v1` contract) into what the
 * cluster model can use: per-GPU matmul TFLOP/s by shape and dtype, and the bus
 * bandwidth and latency of collectives inside a node and across nodes. Every number
 * keeps its origin so the estimate can say which came from measurement.
 */
import { z } from 'zod';
import { UsageError } from '../harness/errors.js';
import { ResultsFile } from '../harness/results/schema.js';
import type { CollectiveOp, Link } from './comm.js';
import type { MeasuredGemm } from './gemm.js';
import { parseOrThrow, readYamlFile } from './validate-input.js';

/** What measured results contribute to an estimate. */
export interface Measurements {
  gemms: MeasuredGemm[];
  /** Collective bus bandwidth inside a node, if measured. */
  intra?: Link;
  /** Collective bus bandwidth per GPU across nodes, if measured. */
  inter?: Link;
  /** Per-collective links from all-gather, reduce-scatter and all-to-all cases (see Fabric.ops). */
  ops: Partial<Record<CollectiveOp, { intra?: Link; inter?: Link }>>;
  /** Device names seen in the files. */
  devices: string[];
  /** One line per number taken from measurement, and what was missing. */
  notes: string[];
}

/** Collectives whose own measurements replace the all-reduce-derived links. */
const OP_WORKLOADS: CollectiveOp[] = ['allgather', 'reducescatter', 'alltoall'];

const DTYPE_TO_PRECISION: Record<string, string> = { f16: 'fp16', bf16: 'bf16', fp8: 'fp8', tf32: 'tf32', f32: 'fp32' };

/** An alpha-beta fit of a collective, as the collectives work may attach it (all fields optional). */
const Fit = z.object({
  workload: z.string().optional(),
  scope: z.enum(['intra', 'inter']).optional(),
  alphaUs: z.number().nonnegative().optional(),
  busbwGBps: z.number().positive().optional(),
  betaGBps: z.number().positive().optional(),
  nodes: z.number().optional(),
  ranks: z.number().optional(),
}).passthrough();
type Fit = z.infer<typeof Fit>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Extracts measurements from parsed results files. */
export function extractMeasurements(files: ResultsFile[]): Measurements {
  const out: Measurements = { gemms: [], ops: {}, devices: [], notes: [] };
  // Best busbw per (collective, scope) for the collectives FSDP and MoE use.
  const perOp = new Map<string, { busbw: number; id: string; perNode: number; alpha?: number }>();
  let bestIntra: { busbw: number; alpha?: number; id: string } | undefined;
  let bestInter: { busbw: number; alpha?: number; id: string; perNode: number } | undefined;
  const fits: Fit[] = [];
  for (const f of files) {
    for (const d of f.devices) if (!out.devices.includes(d.name)) out.devices.push(d.name);
    const fileFits = (f as Record<string, unknown>).fits;
    if (Array.isArray(fileFits)) for (const x of fileFits) { const r = Fit.safeParse(x); if (r.success) fits.push(r.data); }
    for (const c of f.cases) {
      if (c.status !== 'ok') continue;
      const p = c.params;
      if (c.workload === 'matmul') {
        const m = num(p.m), n = num(p.n), k = num(p.k), tf = num(c.metrics.tflops);
        const prec = typeof p.dtype === 'string' ? DTYPE_TO_PRECISION[p.dtype] : undefined;
        if (m && n && k && tf && prec) out.gemms.push({ m, n, k, precision: prec, tflops: tf, caseId: c.id });
        continue;
      }
      const caseFit = (c as Record<string, unknown>).fit;
      if (caseFit !== undefined) { const r = Fit.safeParse(caseFit); if (r.success) fits.push({ workload: c.workload, ...r.data }); }
      if (OP_WORKLOADS.includes(c.workload as CollectiveOp)) {
        const busbw = num(c.metrics.busbwGBps);
        const ranks = num(p.ranks) ?? 1;
        const nodes = num(p.nodes) ?? 1;
        if (!busbw || ranks <= 1) continue;
        const key = `${c.workload}|${nodes > 1 ? 'inter' : 'intra'}`;
        const prev = perOp.get(key);
        if (!prev || busbw > prev.busbw) perOp.set(key, { busbw, id: c.id, perNode: Math.max(1, ranks / nodes) });
        continue;
      }
      if (c.workload !== 'allreduce') continue;
      const busbw = num(c.metrics.busbwGBps);
      if (!busbw) continue;
      const nodes = num(p.nodes) ?? 1;
      const ranks = num(p.ranks) ?? 1;
      if (ranks <= 1) continue;
      if (nodes <= 1) {
        if (!bestIntra || busbw > bestIntra.busbw) bestIntra = { busbw, id: c.id };
      } else if (!bestInter || busbw > bestInter.busbw) {
        bestInter = { busbw, id: c.id, perNode: Math.max(1, ranks / nodes) };
      }
    }
  }
  const collFits = (f0: ResultsFile[]) => f0.flatMap((f) => f.collectives?.fits ?? []);
  for (const fit of collFits(files)) {
    if (!OP_WORKLOADS.includes(fit.workload as CollectiveOp)) continue;
    const e = perOp.get(`${fit.workload}|${(fit.nodes ?? 1) > 1 ? 'inter' : 'intra'}`);
    if (e && e.alpha === undefined) e.alpha = fit.alphaUs;
  }
  for (const [key, e] of perOp) {
    const [op, scope] = key.split('|') as [CollectiveOp, 'intra' | 'inter'];
    // All-gather/reduce-scatter across nodes run hierarchically like all-reduce: per-GPU NIC
    // share = busbw / ranks per node. All-to-all's per-rank busbw is used as it is.
    const bw = scope === 'inter' && op !== 'alltoall' ? e.busbw / e.perNode : e.busbw;
    const link: Link = { busbwGBps: bw, latencyUs: e.alpha ?? (scope === 'intra' ? 8 : 15), source: 'measured' };
    out.ops[op] = { ...out.ops[op], [scope]: link };
    out.notes.push(`${op} ${scope}-node busbw ${bw.toFixed(1)} GB/s${scope === 'inter' && op !== 'alltoall' ? ' per GPU' : ''} measured (${e.id})`);
  }
  for (const fit of fits) {
    const bw = fit.busbwGBps ?? fit.betaGBps;
    if (!bw) continue;
    const scope = fit.scope ?? ((fit.nodes ?? 1) > 1 ? 'inter' : 'intra');
    if (scope === 'intra') bestIntra = { busbw: bw, alpha: fit.alphaUs, id: 'alpha-beta fit (intra-node)' };
    else bestInter = { busbw: bw, alpha: fit.alphaUs, id: 'alpha-beta fit (inter-node)', perNode: 1 };
  }
  if (out.gemms.length) out.notes.push(`matmul TFLOP/s measured: ${out.gemms.length} case(s) (${[...new Set(out.gemms.map((g) => g.precision))].join(', ')})`);
  else out.notes.push('no ok matmul cases: GEMM rates from catalog peak × gemmFraction');
  if (bestIntra) {
    out.intra = { busbwGBps: bestIntra.busbw, latencyUs: bestIntra.alpha ?? 8, source: 'measured' };
    out.notes.push(`intra-node busbw ${bestIntra.busbw.toFixed(1)} GB/s measured (${bestIntra.id})`);
  } else out.notes.push('no intra-node all-reduce measured: NVLink bandwidth from catalog');
  if (bestInter) {
    // A hierarchical all-reduce's busbw is carried by perNode NICs at once: per-GPU share.
    const perGpu = bestInter.busbw / bestInter.perNode;
    out.inter = { busbwGBps: perGpu, latencyUs: bestInter.alpha ?? 15, source: 'measured' };
    out.notes.push(`inter-node busbw ${perGpu.toFixed(1)} GB/s per GPU measured (${bestInter.id})`);
  } else out.notes.push('no multi-node all-reduce measured: network bandwidth from catalog');
  return out;
}

/** Reads results files (`--measured a.json,b.json`); a bad file is a UsageError naming the field. */
export function readMeasurements(paths: string[]): Measurements {
  const files = paths.map((p) => parseOrThrow(ResultsFile, readYamlFile(p, '--measured'), p));
  const m = extractMeasurements(files);
  if (!files.length) throw new UsageError('no results files given', '--measured');
  return m;
}
