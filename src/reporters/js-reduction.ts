/**
 * One warning per run when collectives reduced on the host in JavaScript instead of with
 * the native addon (`impl.config.reduction` is `js` or `mixed (…)`): the numbers are right
 * but the host reduction is slower, so busbw at large sizes reads low. Silent otherwise.
 */
import type { Reporter } from '../harness/reporter.js';
import type { ResultsFile } from '../harness/results/schema.js';
import { REBUILD_HINT } from '../kernels/cuda/addon.js';

/** The reduction a case reports, when it is not the native one. */
function jsReduction(config: Record<string, unknown> | undefined): string | undefined {
  const r = config?.reduction;
  return typeof r === 'string' && /^(js|mixed)\b/.test(r) ? r : undefined;
}

/** The warning for these results, or undefined when every case reduced natively (or none reduced on the host). */
export function jsReductionWarning(results: ResultsFile): string | undefined {
  const found = results.cases.map((c) => jsReduction(c.impl?.config)).filter((r): r is string => r !== undefined);
  if (found.length === 0) return undefined;
  const where = [...new Set(found.map((r) => (r === 'js' ? 'on every rank' : r)))].join('; ');
  return (
    `gpubench: warning: ${found.length} collective case${found.length === 1 ? '' : 's'} reduced on the host in JavaScript (${where}), ` +
    'not with the native addon: the results are checked, but the host reduction is slower and large-message busbw reads low. ' +
    `Build the addon on every node (g++, make, python3; no CUDA needed) with ${REBUILD_HINT}; GPUBENCH_JS_REDUCE=1 forces JavaScript.\n`
  );
}

/** A reporter that writes `jsReductionWarning` once, after the run. */
export class JsReductionNotice implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream = process.stderr) {}

  onRunEnd(results: ResultsFile): void {
    const warning = jsReductionWarning(results);
    if (warning) this.out.write(warning);
  }
}
