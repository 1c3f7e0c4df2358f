/** Runs `fn` as a process coordinating a run of `ranks` ranks on `hosts` hosts would plan, then clears the world. */
import { setWorld } from '../../src/collectives/world.js';

export async function withWorld<T>(ranks: number, fn: () => T | Promise<T>, hosts = 1): Promise<T> {
  setWorld({ ranks, hosts });
  try {
    return await fn();
  } finally {
    setWorld(undefined);
  }
}
