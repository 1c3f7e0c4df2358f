/**
 * A pair of GPU timestamps around the encoded work: written by the passes that open and
 * close it (indices 0 and 1), resolved and read back after the submit. Dawn's
 * `timestamp_quantization` toggle is off (dawn.ts), so the interval is the device's own.
 */

/** The query set and the buffers a pair of timestamps travels through. */
export interface TimestampPair {
  set: GPUQuerySet;
  resolve: GPUBuffer;
  read: GPUBuffer;
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
 */
export async function submitTimed(device: GPUDevice, enc: GPUCommandEncoder, q: TimestampPair | undefined): Promise<number> {
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
  await q.read.mapAsync(GPUMapMode.READ);
  const [begin, end] = new BigInt64Array(q.read.getMappedRange().slice(0));
  q.read.unmap();
  const ns = Number((end ?? 0n) - (begin ?? 0n));
  if (!(ns > 0)) throw new Error(`timestamp query returned a non-positive interval (${ns} ns); set GPUBENCH_WEBGPU_TIMER=wall to time on the host`);
  return ns / 1e6;
}
