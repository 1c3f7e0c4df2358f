/**
 * One all-reduce case on the `nccl` backend: every local GPU a rank of one process
 * (ncclCommInitAll through the native addon), NCCL choosing its own algorithm and
 * protocol. The checked call builds every rank's input from the seed exactly as the other
 * collective backends do (`allocateBuffers` + `prepareRank`), uploads it, lets the addon
 * NaN-poison the receive buffers, runs one all-reduce and checks every rank's output
 * against the same float64 reference (`checkOutput`). Timing is CUDA events on every
 * rank's stream, the slowest rank's time, as nccl-tests reports.
 */
import type { PreparedCase } from '../../harness/backend.js';
import type { DeviceInfo, Impl } from '../../harness/results/schema.js';
import { prepareAllReduce, allReduceOptionsError, ncclVersionString, type NcclDtype, type PreparedAllReduce } from '../../kernels/cuda/nccl.js';
import { ncclOneProcessDtypeSupport } from './dtypes.js';
import type { CudaStack } from '../../kernels/cuda/context.js';
import { combineTelemetry, openSampler, toTelemetry } from '../../kernels/cuda/telemetry.js';
import { stackTopology } from '../../kernels/cuda/topology.js';
import { gpuGroupCeiling } from '../../harness/topology/links.js';
import { allocateBuffers, type CollectiveCall } from '../collective.js';
import { bytesOf, encode, F16_TO_F32, fromBf16, view, type CollectiveDtype, type ElementArray } from '../dtypes.js';
import { checkOutput, prepareRank, ReferenceCache } from '../reference.js';
import type { CollectiveData, CollectiveParams } from '../workload.js';

/** Largest integer magnitude a float32 holds exactly (the addon's upload is float32 values). */
export const F32_EXACT_INT = 2 ** 24;

/**
 * A rank's input as the float32 values `NcclAllReduce.upload` takes. The addon converts
 * them back to the dtype natively (f32→f16/bf16 rounding to nearest even, f32→i32
 * truncation); every f16 and bf16 value and every integer up to 2^24 is exact in float32,
 * so the bits on the GPU are the bits `prepareRank` made. Throws for an i32 beyond 2^24
 * rather than upload a different number.
 */
export function toUploadValues(dtype: CollectiveDtype, input: ElementArray): Float32Array {
  if (dtype === 'f32') return input as Float32Array;
  const out = new Float32Array(input.length);
  if (dtype === 'f64') {
    // rankInput makes f64 inputs float32 values for this upload; anything else would change.
    const v = input as Float64Array;
    for (let i = 0; i < v.length; i++) {
      out[i] = v[i]!;
      if (out[i] !== v[i] && v[i] === v[i]) throw new RangeError(`f64 input ${v[i]} at ${i} is not exact in the addon's float32 upload`);
    }
    return out;
  }
  const bad = ncclOneProcessDtypeSupport(dtype);
  if (bad) throw new RangeError(bad);
  if (dtype === 'f16') {
    const h = input as Uint16Array;
    for (let i = 0; i < h.length; i++) out[i] = F16_TO_F32[h[i]!]!;
  } else if (dtype === 'bf16') {
    const h = input as Uint16Array;
    for (let i = 0; i < h.length; i++) out[i] = fromBf16(h[i]!);
  } else {
    const v = input as Int32Array;
    for (let i = 0; i < v.length; i++) {
      if (Math.abs(v[i]!) > F32_EXACT_INT) throw new RangeError(`i32 input ${v[i]} at ${i} is not exact in the addon's float32 upload (|x| ≤ 2^24)`);
      out[i] = v[i]!;
    }
  }
  return out;
}

/**
 * A rank's output, which the addon returns as float64 values, back in the dtype's storage
 * for `checkOutput`. Lossless: each value came from that dtype (NaN poison stays NaN).
 */
export function fromOutputValues(dtype: CollectiveDtype, values: Float64Array): Uint8Array {
  return bytesOf(encode(dtype, values));
}

/** NCCL's own algorithm and protocol choice, unless forced through its environment. */
export const NCCL_ALGORITHM_REASON =
  'NCCL picks its own algorithm (ring, tree, NVLS…) per size; only "auto" runs on nccl (set NCCL_ALGO=Ring or Tree, and NCCL_PROTO, in the environment to force one)';

/** Bytes of GPU memory a rank's buffers need. */
export function ncclBufferBytes(p: Pick<CollectiveParams, 'bytes' | 'inPlace'>): number {
  return p.bytes * (p.inPlace ? 1 : 2);
}

/**
 * Why an all-reduce case cannot run on the `nccl` backend over `devices` (one rank each),
 * or undefined. Pure: checked while planning, before any GPU is touched.
 */
export function ncclAllReduceSupport(p: CollectiveParams, devices: Pick<DeviceInfo, 'memoryBytes'>[]): string | undefined {
  if (p.kind !== 'allreduce') return `nccl runs allreduce here, not ${p.kind}`;
  if (p.algorithm !== 'auto') return `algorithm "${p.algorithm}": ${NCCL_ALGORITHM_REASON}`;
  const dtype = ncclOneProcessDtypeSupport(p.dtype);
  if (dtype) return dtype;
  const bad = allReduceOptionsError({ count: p.count, dtype: p.dtype as NcclDtype, op: p.op, inPlace: p.inPlace }, devices.length);
  if (bad) return bad;
  if (p.ranks !== devices.length) return `planned for ${p.ranks} ranks but ${devices.length} local GPUs are ranks`;
  // NCCL itself keeps a few hundred MiB per communicator; leave it and the context room.
  const need = ncclBufferBytes(p);
  const room = Math.min(...devices.map((d) => d.memoryBytes ?? Infinity)) * 0.8;
  if (need > room) return `needs ${(need / 2 ** 30).toFixed(1)} GiB per GPU for ${p.inPlace ? 'one buffer' : 'send and receive buffers'}; the smallest GPU has room for ${(room / 2 ** 30).toFixed(1)} GiB`;
  return undefined;
}

/** Notes every `nccl` case and probe carries: what the ranks are, and what n = 1 means. */
export function ncclNotes(ranks: number): string[] {
  const notes = [
    `${ranks} local GPU${ranks === 1 ? '' : 's'} as ${ranks} rank${ranks === 1 ? '' : 's'} of one process (ncclCommInitAll), NCCL's own algorithm and protocol${forcedNote()}`,
  ];
  if (ranks === 1) notes.push("one GPU: one rank, no data moves between GPUs; busbw = algbw × 2(n−1)/n = 0 by nccl-tests' definition");
  return notes;
}

function forcedNote(): string {
  const forced = ['NCCL_ALGO', 'NCCL_PROTO'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
  return forced.length ? ` (forced: ${forced.join(', ')})` : '';
}

/** What the results file says runs: NCCL, its version, the ranks and any forced choice. */
function implOf(ar: PreparedAllReduce, version: number): Impl {
  const config: Record<string, string | number | boolean> = { ncclVersion: ncclVersionString(version), ranks: ar.ranks, devices: ar.devices.join(',') };
  for (const k of ['NCCL_ALGO', 'NCCL_PROTO'] as const) if (process.env[k]) config[k] = process.env[k]!;
  return { kernel: 'nccl', config, notes: ncclNotes(ar.ranks) };
}

/**
 * Builds a ready-to-time all-reduce over every local GPU.
 * @param names the ranks' device names, for the case's `device`
 * @param version NCCL's version code (ncclGetVersion)
 */
export async function setupNcclAllReduce(c: CollectiveCall, data: CollectiveData, names: string[], version: number, stack?: CudaStack): Promise<PreparedCase> {
  const ar = await prepareAllReduce({ count: c.count, dtype: c.dtype as NcclDtype, op: c.op, inPlace: c.inPlace });
  const n = ar.ranks;
  // NVML on every rank's GPU while the timed calls run (none where NVML is missing).
  const samplers = stack
    ? ar.devices.map((d) => stack.devices.find((x) => x.index === d)).flatMap((dev) => (dev ? [openSampler(stack, dev.uuid)] : [])).filter((x) => x !== undefined)
    : [];
  const timeAll = async (iterations: number): Promise<number> => {
    for (const sam of samplers) sam.resume();
    try {
      return await ar.time(iterations);
    } finally {
      for (const sam of samplers) sam.pause();
    }
  };
  const distinct = [...new Set(names)];
  return {
    device: `${n} rank${n === 1 ? '' : 's'}: ${distinct.join(', ')}${n > 1 && distinct.length === 1 ? ` ×${n}` : ''}`,
    timer: 'cuda-event',
    impl: implOf(ar, version),
    runChecked() {
      // Fresh inputs from the seed on every rank, as every collective backend makes them.
      // The addon poisons the receive buffers itself (NaN; −2^31+15 for i32) before the call,
      // so the host output prepareRank poisoned is not uploaded; in place, input is output.
      // Each rank's input is made once, for its upload and for every rank's check.
      const reference = new ReferenceCache(c, n, data.seed);
      for (let r = 0; r < n; r++) {
        const host = allocateBuffers(c, n, r);
        prepareRank(c, n, r, data.seed, host, reference.input(r));
        ar.upload(r, toUploadValues(c.dtype, view(c.dtype, host.input)));
      }
      const outs = ar.runChecked();
      data.rankChecks = outs.map((out, r) => checkOutput(c, n, r, data.seed, fromOutputValues(c.dtype, out), reference));
      return Promise.resolve(new Float64Array(0));
    },
    time: timeAll,
    telemetry: () => combineTelemetry(samplers.map((sam) => toTelemetry(sam.summary())).filter((t) => t !== undefined)),
    // Between the local GPUs: NVLink where every rank's GPU has active links, else PCIe (busbw is what a link carries).
    link: () => (stack ? gpuGroupCeiling(stackTopology(stack).filter((g) => ar.devices.some((d) => g.id === `cuda:${d}`))) : undefined),
    dispose() {
      for (const sam of samplers) sam.close();
      ar.dispose();
      return Promise.resolve();
    },
  };
}
