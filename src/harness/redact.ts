/**
 * Secrets never reach a results file, a report, a log or an export: the command line
 * recorded in `run.argv` has the values of secret options replaced.
 */

/** Options whose values are secrets. */
export const SECRET_OPTIONS = ['--token'] as const;

/** What a secret's value is replaced with. */
export const REDACTED = '[redacted]';

/** `argv` with the value of every secret option (`--token X`, `--token=X`) replaced. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const secret = SECRET_OPTIONS.find((o) => a === o || a.startsWith(`${o}=`));
    if (!secret) out.push(a);
    else if (a === secret) {
      out.push(a);
      if (i + 1 < argv.length) {
        out.push(REDACTED);
        i++;
      }
    } else out.push(`${secret}=${REDACTED}`);
  }
  return out;
}
