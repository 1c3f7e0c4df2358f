/**
 * One collective case on the `nccl` backend as a worker rank runs it, on the communicator
 * the run keeps (`NcclRank`): this rank's input from the case seed exactly as the `ws`
 * backend makes it, uploaded to its GPU with the output NaN-poisoned, one NCCL call, this
 * rank's output checked against the float64 reference here, the verdicts agreed over the
 * data links; then the same measurement loop as `ws` (rank 0 leads), each rank timing its
 * own calls with CUDA events after a barrier, a sample being the slowest rank's.
 */
import type { MeasureOptions } from '../../harness/measure.js';
import type { Transport } from '../transport.js';
import { allocateBuffers, type CollectiveCall } from '../collective.js';
import { bytesOf, view } from '../dtypes.js';
import { checkOutput, prepareRank } from '../reference.js';
import { recursiveDoublingAllReduce } from '../algorithms/recursive-doubling.js';
import { barrier, measureRanks, ncclTestsLoop, type RankCaseResult } from '../rank-case.js';
import { fromOutputValues, toUploadValues } from './allreduce-case.js';
import type { NcclRank } from './comm.js';

/** Runs the case on this rank's communicator (`onSample`: rank 0's count of samples, for progress). */
export async function runNcclRankCase(
  nccl: NcclRank,
  t: Transport,
  c: CollectiveCall,
  seed: number,
  opts: MeasureOptions,
  onSample?: (samples: number) => void,
): Promise<RankCaseResult> {
  const { rank, size } = t;
  const host = allocateBuffers(c, size, rank);
  prepareRank(c, size, rank, seed, host);
  nccl.setup(c);
  // A broadcast's other ranks have no input (prepareRank poisoned theirs): the addon poisons their buffers.
  const hasInput = c.kind !== 'broadcast' || rank === (c.root ?? 0);
  nccl.upload(hasInput ? toUploadValues(c.dtype, view(c.dtype, host.input)) : new Float32Array(0));
  const out = await nccl.runChecked(c);
  const check = checkOutput(c, size, rank, seed, fromOutputValues(c.dtype, out));
  const result: RankCaseResult = {
    rank, check, algorithm: 'nccl', ownSamplesMs: [], timer: 'cuda-event', device: nccl.deviceName, ncclVersion: nccl.ncclVersion,
  };
  // Every rank learns every verdict before timing, so none waits on a call the others skip.
  const verdict = new Int32Array([check.passed ? 0 : 1]);
  if (size > 1) await recursiveDoublingAllReduce(t, bytesOf(verdict), 'i32', 'sum');
  if (verdict[0]! > 0) return result;
  const timeOwn = async (iterations: number) => {
    await barrier(t);
    return nccl.time(c, iterations);
  };
  await measureRanks(t, opts, timeOwn, result, onSample, undefined, 'cuda-event');
  // nccl-tests' convention: host time around n calls, which nccl.time returns after they completed.
  const ncclTimes = await ncclTestsLoop(t, opts, (n) => nccl.time(c, n));
  if (ncclTimes) result.ncclTimesUs = ncclTimes;
  return result;
}
