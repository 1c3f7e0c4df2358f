/**
 * A rank's part in ring all-reduces over disjoint groups of ranks, every group at the same
 * time: the whole group, a level of a bisection, or k-batches. Each group is a
 * communicator of its own — a view of the worker's transport that numbers the group's
 * ranks 0..k−1 — and runs the harness's own collective case on it (`runRankCase`: fresh
 * inputs, a poisoned checked call against the reference, warm-up, timed samples whose time
 * is the group's slowest rank's). Groups are disjoint, so their messages never meet.
 */
import type { Transport } from '../collectives/transport.js';
import type { FleetTask, GroupAllReduceResult } from './protocol.js';

/** The ranks `group` of `t` as a communicator of their own (rank i of it is `group[i]` of `t`). */
export function subTransport(t: Transport, group: readonly number[]): Transport {
  const rank = group.indexOf(t.rank);
  if (rank < 0) throw new RangeError(`rank ${t.rank} is not in the group ${group.join(',')}`);
  const g = (peer: number) => {
    const r = group[peer];
    if (r === undefined) throw new RangeError(`peer ${peer} is outside a group of ${group.length}`);
    return r;
  };
  return {
    rank,
    size: group.length,
    send: (peer, bytes) => t.send(g(peer), bytes),
    recv: (peer) => t.recv(g(peer)),
    recvInto: (peer, dst) => t.recvInto(g(peer), dst),
    recvKept: (peer) => t.recvKept(g(peer)),
    release: (peer, bytes) => t.release(g(peer), bytes),
    // The links are the worker's: the group's view does not close them.
    close: async () => undefined,
  };
}

/** This rank's part in a `group-allreduce` task (nothing to do when in no group). */
export async function groupAllReduce(t: Transport, task: Extract<FleetTask, { kind: 'group-allreduce' }>): Promise<GroupAllReduceResult> {
  const index = task.groups.findIndex((g) => g.includes(t.rank));
  if (index < 0) return { kind: 'group-allreduce' };
  try {
    const [{ runRankCase }, { DEFAULT_MEASURE }] = await Promise.all([import('../collectives/rank-case.js'), import('../harness/measure.js')]);
    const sub = subTransport(t, task.groups[index]!);
    const count = Math.max(1, Math.floor(task.bytes / 4));
    const r = await runRankCase(
      sub,
      { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count, inPlace: false, ...(task.cpuBound ? { cpuBound: true } : {}) },
      task.seed,
      // Exactly `samples` samples in every group, so a level's groups are compared sample for sample.
      { ...DEFAULT_MEASURE, warmupMs: task.warmupMs, maxWarmupMs: task.warmupMs, minTimeMs: 0, minSamples: task.samples, maxSamples: task.samples, minSampleMs: task.sampleMs, ncclIters: 0, ncclWarmupIters: 0 },
    );
    return { kind: 'group-allreduce', group: index, passed: r.check.passed, ...(r.samplesMs ? { samplesMs: r.samplesMs } : {}), ...(r.check.passed ? {} : { error: `wrong result: ${r.check.wrong ?? '?'} wrong elements` }) };
  } catch (err) {
    return { kind: 'group-allreduce', group: index, error: err instanceof Error ? err.message : String(err) };
  }
}
