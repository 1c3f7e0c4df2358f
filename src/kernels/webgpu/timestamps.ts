/**
 * A pair of GPU timestamps around the encoded work: written by the passes that open and
 * close it (indices 0 and 1), resolved and read back after the submit. Dawn's
 * `timestamp_quantization` toggle is off (dawn.ts), so the interval is the device's own.
 * The host sleeps through most of the work it expects before it maps the timestamps
 * (quiet-wait.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { quietSleepMs } from './quiet-wait.js';

/** The query set and the buffers a pair of timestamps travels through. */
export interface TimestampPair {
  set: GPUQuerySet;
  resolve: GPUBuffer;
  read: GPUBuffer;
  /** Device ms per unit of work in the latest submit: what the next one is expected to take. */
  msPerWork?: number;
}

/** A pair of timestamps on `device`. */
export function createTimestampPair(device: GPUDevice): TimestampPair {
  return {
    set: device.createQuerySet({ type: 'timestamp', count: 2 }),
    resolve: device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
    read: device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
  };
}

/** Frees the pair's query set and buffers. */
export function destroyTimestampPair(q: TimestampPair): void {
  q.set.destroy();
  q.resolve.destroy();
  q.read.destroy();
}

/**
 * Submits `enc` (its passes wrote timestamps 0 and 1 into `q`) and returns the device time
 * between them in ms; without `q`, the host time from the submit until the queue is done.
 * @param work units of like work in `enc` (e.g. dispatches): the previous submit's time per
 *   unit says how long to sleep before polling (quiet-wait.ts; never without `q`, whose
 *   host clock would count an oversleep)
 */
export async function submitTimed(device: GPUDevice, enc: GPUCommandEncoder, q: TimestampPair | undefined, work = 1): Promise<number> {
  if (q) {
    enc.resolveQuerySet(q.set, 0, 2, q.resolve, 0);
    enc.copyBufferToBuffer(q.resolve, 0, q.read, 0, 16);
  }
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  if (!q) {
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  }
  const quiet = quietSleepMs((q.msPerWork ?? 0) * work);
  if (quiet) await sleep(quiet);
  await q.read.mapAsync(GPUMapMode.READ);
  const [begin, end] = new BigInt64Array(q.read.getMappedRange().slice(0));
  q.read.unmap();
  const ns = Number((end ?? 0n) - (begin ?? 0n));
  if (!(ns > 0)) throw new Error(`timestamp query returned a non-positive interval (${ns} ns); set GPUBENCH_WEBGPU_TIMER=wall to time on the host`);
  q.msPerWork = ns / 1e6 / work;
  return ns / 1e6;
}
