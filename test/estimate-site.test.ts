import { describe, expect, it } from 'vitest';
import { parseCount, parsePower, sizeSite, timeToTrain } from '../src/estimate/site.js';

const h100 = { gpuWatts: 700, nodeOverheadWatts: 4600, perGpuInfraWatts: 100, pue: 1.2, gpusPerNode: 8, gpusPerRack: 32 };

describe('site sizing arithmetic', () => {
  it('all-in watts per GPU = board + node overhead / GPUs per node + infrastructure, × PUE at the meter', () => {
    const s = sizeSite(4.5e9, h100, 989.4);
    expect(s.allInWattsPerGpu).toBe(700 + 4600 / 8 + 100);
    expect(s.facilityWattsPerGpu).toBeCloseTo(1375 * 1.2, 9);
    expect(s.gpus).toBe(Math.floor(4.5e9 / 1650 / 8) * 8);
    expect(s.nodes * 8).toBe(s.gpus);
    expect(s.racks).toBe(Math.ceil(s.gpus / 32));
    expect(s.facilityMW).toBeLessThanOrEqual(4500);
    expect(s.facilityMW).toBeGreaterThan(4500 - 1650 * 8 / 1e6);
    expect(s.peakEflops).toBeCloseTo((s.gpus * 989.4) / 1e6, 9);
  });

  it('halving PUE overhead buys GPUs in proportion', () => {
    const a = sizeSite(1e9, { ...h100, pue: 1.5 }, 1);
    const b = sizeSite(1e9, { ...h100, pue: 1.0 }, 1);
    expect(b.gpus / a.gpus).toBeCloseTo(1.5, 2);
  });

  it('time to train = FLOPs / (GPUs × sustained FLOP/s); energy and cost follow GPU-hours', () => {
    const r = timeToTrain(3.8e25, 16384, 400, 1650, 2);
    expect(r.seconds).toBeCloseTo(3.8e25 / (16384 * 400e12), 3);
    expect(r.gpuHours).toBeCloseTo((16384 * r.seconds) / 3600, 3);
    expect(r.energyMWh).toBeCloseTo((r.gpuHours * 1650) / 1e6, 6);
    expect(r.costUSD).toBeCloseTo(r.gpuHours * 2, 3);
    expect(timeToTrain(1, 1, 1, 1).costUSD).toBeNull();
  });

  it('parses power budgets and counts with SI suffixes', () => {
    expect(parsePower('4.5GW')).toBe(4.5e9);
    expect(parsePower('300 MW')).toBe(3e8);
    expect(parsePower('2e9')).toBe(2e9);
    expect(parsePower('lots')).toBeUndefined();
    expect(parseCount('15T')).toBe(15e12);
    expect(parseCount('2.5B')).toBe(2.5e9);
    expect(parseCount('x')).toBeUndefined();
  });
});
