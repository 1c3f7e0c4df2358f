/**
 * A small autotuner over tile shapes: per adapter, dtype, load width and size bucket it
 * times each candidate once on the case's own buffers, re-times the best two, and keeps
 * the winner in a JSON cache so later runs skip the search. The choice and where it came
 * from go into the case's `impl`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { tileName, validateTile, type TileConfig } from './wgsl/tiled.js';

/** Candidates, best-first for a typical discrete GPU. All fit 16 KiB of workgroup memory and 256 invocations. */
export const TILE_CANDIDATES: readonly TileConfig[] = [
  { wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8 },
  { wgX: 8, wgY: 16, tm: 8, tn: 16, bk: 8 },
  { wgX: 16, wgY: 8, tm: 8, tn: 8, bk: 8 },
  { wgX: 8, wgY: 8, tm: 8, tn: 8, bk: 8 },
  { wgX: 16, wgY: 16, tm: 4, tn: 4, bk: 16 },
  { wgX: 8, wgY: 8, tm: 4, tn: 4, bk: 16 },
];

/** Where the cache lives: `GPUBENCH_AUTOTUNE_CACHE`, else `$XDG_CACHE_HOME/gpubench/autotune.json`. */
export function cachePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GPUBENCH_AUTOTUNE_CACHE) return env.GPUBENCH_AUTOTUNE_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'gpubench', 'autotune.json');
}

/** Power-of-two bucket of a dimension, so nearby sizes share a tuned choice. */
export function bucket(x: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, x)));
}

/** The cache key of a problem on an adapter. */
export function tuneKey(adapter: string, dtype: string, vec4: boolean, m: number, n: number, k: number): string {
  return `${adapter}|${dtype}|${vec4 ? 'vec4' : 'scalar'}|${bucket(m)}x${bucket(n)}x${bucket(k)}`;
}

type CacheFile = Record<string, { tile: TileConfig; ms: number; at: string }>;

function readCache(path: string): CacheFile {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
  } catch {
    return {};
  }
}

/** Looks up a cached choice that is still valid for the device's limits. */
export function cachedTile(key: string, limits: GPUSupportedLimits, path = cachePath()): TileConfig | undefined {
  const hit = readCache(path)[key];
  if (!hit) return undefined;
  try {
    validateTile(hit.tile, limits);
    return hit.tile;
  } catch {
    return undefined;
  }
}

/** Stores a choice (atomically: write then rename, so a crash never leaves half a file). */
export function storeTile(key: string, tile: TileConfig, ms: number, path = cachePath()): void {
  const data = readCache(path);
  data[key] = { tile, ms, at: new Date().toISOString() };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2));
  renameSync(tmp, path);
}

/** Candidates the device can run. */
export function feasibleCandidates(limits: GPUSupportedLimits): TileConfig[] {
  return TILE_CANDIDATES.filter((c) => {
    try {
      validateTile(c, limits);
      return true;
    } catch {
      return false;
    }
  });
}

/** Result of a search: the winner and how many were timed. */
export interface TuneResult<P> {
  tile: TileConfig;
  pipeline: P;
  ms: number;
  candidates: number;
}

/**
 * Times every candidate once (after compiling it and one untimed run: drivers such as
 * lavapipe compile at the first dispatch, which must not count), then the best two
 * again, and returns the fastest by its best time.
 * @param build compiles a candidate into something `time` can run
 * @param time runs it once and returns milliseconds
 */
export async function searchTiles<P>(
  candidates: readonly TileConfig[],
  build: (c: TileConfig) => Promise<P>,
  time: (p: P) => Promise<number>,
): Promise<TuneResult<P>> {
  const timed: { tile: TileConfig; pipeline: P; ms: number }[] = [];
  for (const tile of candidates) {
    const pipeline = await build(tile);
    await time(pipeline);
    timed.push({ tile, pipeline, ms: await time(pipeline) });
  }
  if (timed.length === 0) throw new Error('autotune: no tile candidate fits this device');
  timed.sort((a, b) => a.ms - b.ms);
  for (const t of timed.slice(0, 2)) t.ms = Math.min(t.ms, await time(t.pipeline));
  timed.sort((a, b) => a.ms - b.ms);
  const best = timed[0]!;
  return { tile: best.tile, pipeline: best.pipeline, ms: best.ms, candidates: timed.length };
}

export { tileName };
