import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bucket, cachedTile, feasibleCandidates, searchTiles, storeTile, tuneKey, TILE_CANDIDATES } from '../src/kernels/webgpu/autotune.js';
import { tiledMatmulWgsl, validateTile, workgroupBytes } from '../src/kernels/webgpu/wgsl/tiled.js';

const limits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 } as GPUSupportedLimits;

describe('the tile autotuner', () => {
  it('buckets sizes by powers of two so nearby shapes share a choice', () => {
    expect(bucket(1)).toBe(1);
    expect(bucket(100)).toBe(128);
    expect(bucket(128)).toBe(128);
    expect(tuneKey('a', 'f32', true, 100, 120, 90)).toBe(tuneKey('a', 'f32', true, 128, 97, 127));
    expect(tuneKey('a', 'f32', true, 100, 120, 90)).not.toBe(tuneKey('a', 'f32', false, 100, 120, 90));
  });

  it('offers only tiles within the device limits', () => {
    expect(feasibleCandidates(limits)).toHaveLength(TILE_CANDIDATES.length);
    const tiny = { maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 16384 } as GPUSupportedLimits;
    const ok = feasibleCandidates(tiny);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.every((c) => c.wgX * c.wgY <= 64 && workgroupBytes(c) <= 16384)).toBe(true);
    expect(() => validateTile({ wgX: 8, wgY: 8, tm: 4, tn: 6, bk: 8 })).toThrow(/multiple of 4/);
  });

  it('picks the fastest candidate by time, after an untimed warm-up run of each', async () => {
    const speeds = new Map(TILE_CANDIDATES.map((c, i) => [c, [50, 9, 30, 40, 12, 60][i]!]));
    const runs = new Map<object, number>();
    const r = await searchTiles(TILE_CANDIDATES, async (c) => c, async (c) => {
      runs.set(c, (runs.get(c) ?? 0) + 1);
      // The first run of each includes a "compile" that must not decide the winner.
      return runs.get(c) === 1 ? 1000 - speeds.get(c)! : speeds.get(c)!;
    });
    expect(r.tile).toBe(TILE_CANDIDATES[1]);
    expect(r.ms).toBe(9);
    expect(r.candidates).toBe(TILE_CANDIDATES.length);
  });

  it('caches a choice per key and ignores entries that no longer fit the device', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gpubench-')), 'sub', 'autotune.json');
    storeTile('k1', TILE_CANDIDATES[2]!, 1.5, path);
    expect(cachedTile('k1', limits, path)).toEqual(TILE_CANDIDATES[2]);
    expect(cachedTile('k2', limits, path)).toBeUndefined();
    const small = { maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 16384 } as GPUSupportedLimits;
    expect(cachedTile('k1', small, path)).toBeUndefined();
    writeFileSync(path, '{ not json');
    expect(cachedTile('k1', limits, path)).toBeUndefined();
    storeTile('k3', TILE_CANDIDATES[0]!, 2, path);
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')) as object)).toEqual(['k3']);
  });

  it('generates WGSL for both load widths and both storage types', () => {
    const t = TILE_CANDIDATES[0]!;
    expect(tiledMatmulWgsl(t, 'f32', true)).toContain('array<vec4<T>>');
    expect(tiledMatmulWgsl(t, 'f32', false)).not.toContain('array<vec4<T>>');
    expect(tiledMatmulWgsl(t, 'f16', true)).toMatch(/^enable f16;/);
    expect(tiledMatmulWgsl(t, 'f32', true).match(/fma\(/g)).toHaveLength(t.tm * (t.tn / 4));
  });
});
