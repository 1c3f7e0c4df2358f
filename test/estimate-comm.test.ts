import { describe, expect, it } from 'vitest';
import { busbwFactor, busbwFromTime, collectiveTime, flatCollectiveTime, placeGroup, type Fabric, type Link } from '../src/estimate/comm.js';

const nvl: Link = { busbwGBps: 230, latencyUs: 0, source: 'catalog' };
const ib: Link = { busbwGBps: 21, latencyUs: 0, source: 'catalog' };
const fabric: Fabric = { gpusPerNode: 8, intra: nvl, inter: ib };

describe('communication model against nccl-tests definitions', () => {
  it('uses nccl-tests bus-bandwidth factors', () => {
    expect(busbwFactor('allreduce', 8)).toBeCloseTo(1.75);
    expect(busbwFactor('allgather', 8)).toBeCloseTo(0.875);
    expect(busbwFactor('reducescatter', 4)).toBeCloseTo(0.75);
    expect(busbwFactor('broadcast', 16)).toBe(1);
    expect(busbwFactor('allreduce', 1)).toBe(0);
  });

  it('a flat collective reports back the busbw it was modelled with (busbw = S/t · F)', () => {
    for (const op of ['allreduce', 'allgather', 'reducescatter', 'broadcast'] as const) {
      for (const n of [2, 8, 64]) {
        const t = flatCollectiveTime(op, 1e9, n, nvl);
        expect(busbwFromTime(op, 1e9, n, t)).toBeCloseTo(230, 6);
      }
    }
  });

  it('all-reduce costs the same bus time as reduce-scatter + all-gather (why SP costs what TP all-reduce costs)', () => {
    const ar = flatCollectiveTime('allreduce', 256e6, 8, nvl);
    const rsag = flatCollectiveTime('reducescatter', 256e6, 8, nvl) + flatCollectiveTime('allgather', 256e6, 8, nvl);
    expect(rsag).toBeCloseTo(ar, 12);
  });

  it('latency dominates small messages: alpha·steps', () => {
    const link: Link = { busbwGBps: 100, latencyUs: 10, source: 'catalog' };
    expect(flatCollectiveTime('allreduce', 8, 8, link)).toBeCloseTo(6 * 10e-6, 7); // min(2·7 ring, 2·3 tree) steps
  });

  it('places groups on nodes by stride: TP inside a node, DP across nodes', () => {
    expect(placeGroup(8, 1, 8)).toEqual({ perNode: 8, nodes: 1 });
    expect(placeGroup(32, 8, 8)).toEqual({ perNode: 1, nodes: 32 });
    expect(placeGroup(32, 2, 8)).toEqual({ perNode: 4, nodes: 8 });
  });

  it('hierarchical all-reduce = intra reduce-scatter + inter all-reduce of S/g + intra all-gather', () => {
    const S = 1e9;
    const t = collectiveTime('allreduce', S, 32, 1, fabric); // 4 nodes × 8
    const expected = S * (7 / 8) / 230e9 + (S / 8) * (2 * 3 / 4) / 21e9 + S * (7 / 8) / 230e9;
    expect(t).toBeCloseTo(expected, 9);
    // The equivalent busbw over all 32 ranks is bounded by 8 NICs' worth of network.
    expect(busbwFromTime('allreduce', S, 32, t)).toBeLessThan(8 * 21);
  });

  it('a group with one GPU per node runs entirely on the network', () => {
    expect(collectiveTime('allreduce', 1e8, 16, 8, fabric)).toBeCloseTo(flatCollectiveTime('allreduce', 1e8, 16, ib), 12);
  });
});
