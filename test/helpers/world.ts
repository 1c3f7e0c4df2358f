/** Runs `fn` as a process coordinating a run of `ranks` ranks would plan, then clears the world. */
import { setWorld } from '../../src/collectives/world.js';

export async function withWorld<T>(ranks: number, fn: () => T | Promise<T>): Promise<T> {
  setWorld({ ranks });
  try {
    return await fn();
  } finally {
    setWorld(undefined);
  }
}
