/**
 * One collective case on the `nccl` backend as a worker rank runs it, on the communicator
 * the run keeps (`NcclRank`): this rank's buffers made exactly as the `ws` backend makes
 * them (`allocateBuffers` + `prepareRank`: the input from the case seed in the case's
 * dtype, the output poisoned), their bytes uploaded to its GPU, one NCCL call, and the
 * bytes the check reads (the output; a reduce's or gather's non-root: its input, which
 * must be unchanged) read back and checked against the reference here, as `ws` checks
 * them; `-c` such calls, each from fresh buffers. The verdicts are agreed over the data
 * links; then the same measurement loop as `ws` (rank 0 leads), each rank timing its own
 * calls with CUDA events after a barrier, a sample being the slowest rank's.
 */
import type { MeasureOptions } from '../../harness/measure.js';
import type { Transport } from '../transport.js';
import { allocateBuffers, type CollectiveCall } from '../collective.js';
import { bytesOf } from '../dtypes.js';
import { checkedBytes, checkOutput, prepareRank } from '../reference.js';
import { recursiveDoublingAllReduce } from '../algorithms/recursive-doubling.js';
import { barrier, measureRanks, ncclTestsLoop, type RankCaseResult } from '../rank-case.js';
import { mergeChecks } from '../workload.js';
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
  // The device buffers mirror the host's (in place: one buffer, the input inside the output
  // or the output inside the input); the check reads what it reads on the host.
  nccl.setup(c, checkedBytes(c, size, rank, host) === host.output ? 'output' : 'input');
  // nccl-tests' -c: each checked call starts from fresh inputs and poisoned outputs.
  const checks = [];
  for (let i = 0; i < Math.max(1, opts.checkIters ?? 1); i++) {
    prepareRank(c, size, rank, seed, host);
    nccl.upload(host.input, host.output);
    checks.push(checkOutput(c, size, rank, seed, await nccl.runChecked(c)));
  }
  const check = mergeChecks(checks);
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
