/**
 * Errors that map to gpubench's exit codes:
 * 0 all ok · 1 a check failed or a regression was found · 2 bad usage/config · 3 runtime fault
 * · 130 stopped by Ctrl-C (results so far written, status `partial`).
 */

/** Exit codes, as documented in README (130 = 128 + SIGINT, as shells report Ctrl-C). */
export const ExitCode = { ok: 0, failed: 1, usage: 2, fault: 3, interrupted: 130 } as const;

/** Bad command line or configuration: exit 2, message names the field and what is allowed. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** @param field the option or config path at fault, e.g. `--sizes` or `workloads[0].dtypes[1]` */
  constructor(message: string, readonly field?: string) {
    super(field ? `${field}: ${message}` : message);
  }
}

/** A fault at run time that is not the user's input: peer lost, device lost, timeout. Exit 3. */
export class RuntimeFault extends Error {
  override readonly name = 'RuntimeFault';
}

/** The exit code an error thrown out of a command maps to. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.usage;
  return ExitCode.fault;
}
