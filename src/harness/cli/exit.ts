/**
 * Exiting once a command is done. A socket left half-open by a lost peer (a network
 * partition sends no reset) would keep the event loop, and so the process, alive: once
 * the command has its exit code, the process ends within a bound.
 */

/** Exits with `code` after `graceMs` unless the process has ended by itself by then. */
export function exitSoon(code: number, graceMs = 2000): void {
  setTimeout(() => process.exit(code), graceMs).unref();
}
