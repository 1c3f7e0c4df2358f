/** The `webgpu` backend's device, opened on first use and shared by every case. */
import { closeDawn, openDawn, type DawnContext } from './dawn.js';

let ctxPromise: Promise<DawnContext> | undefined;

/** Opens (once) and returns the backend's Dawn device. A failed open is retried next time. */
export function webgpuContext(): Promise<DawnContext> {
  ctxPromise ??= openDawn().then((ctx) => {
    // Host timing on request, e.g. for a driver whose timestamps are broken.
    if (process.env.GPUBENCH_WEBGPU_TIMER === 'wall') ctx.timestamps = false;
    return ctx;
  });
  ctxPromise.catch(() => {
    ctxPromise = undefined;
  });
  return ctxPromise;
}

/** Closes the device if it was opened, so the process can exit. */
export async function closeWebgpuContext(): Promise<void> {
  const pending = ctxPromise;
  ctxPromise = undefined;
  const ctx = await pending?.catch(() => undefined);
  if (ctx) closeDawn(ctx);
}
