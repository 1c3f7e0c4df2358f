/**
 * How long the host sleeps after a timed submit before it waits on the result. While a
 * map or `onSubmittedWorkDone` is pending, Dawn's Node bindings poll the instance on every
 * turn of the event loop, and that spinning thread takes a core from a software adapter's
 * own threads: lavapipe on this 2-core VM (2026-12-03), the main thread burned as much CPU
 * as each driver thread, 320³ f32 ran 10.2 ms per call instead of 6.4, and its fastest
 * sample varied 13% from run to run instead of 3%. A device-timed interval cannot be
 * lengthened by the sleep; the last part of the wait is polled, so that a real GPU does
 * not sit idle between samples.
 */

/** Share of the expected device time the host sleeps through before it starts to poll. */
export const QUIET_WAIT_SHARE = 0.8;

/**
 * Work expected to take less is polled from the start: a timer can wake a millisecond
 * late, and the share left to polling must cover that (samples last >= 20 ms by default).
 */
export const QUIET_WAIT_MIN_MS = 5;

/** The sleep before polling for device work expected to take `expectedMs` (0: poll at once). */
export function quietSleepMs(expectedMs: number): number {
  return expectedMs >= QUIET_WAIT_MIN_MS ? expectedMs * QUIET_WAIT_SHARE : 0;
}
