/** The reference run of a collective on the CPU, for the GPU paths' bit-for-bit comparisons. */
import { allocateBuffers, runCollective, type CollectiveCall } from '../../src/collectives/collective.js';
import { inProcessGroup } from '../../src/collectives/inprocess.js';
import { prepareRank } from '../../src/collectives/reference.js';

/** Every rank's output after `c` on n in-process ranks (`runCollective`: the CPU's algorithms), inputs from `seed`. */
export async function cpuOutputs(n: number, c: CollectiveCall, seed: number): Promise<Uint8Array[]> {
  const ts = inProcessGroup(n);
  const bufs = ts.map((_, r) => {
    const b = allocateBuffers(c, n, r);
    prepareRank(c, n, r, seed, b);
    return b;
  });
  await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
  for (const t of ts) void t.close();
  return bufs.map((b) => b.output);
}
