import type { ResultsFile } from '../../harness/results/schema.js';
import type { History } from '../history/history.js';

/** Options every formatter may use; all optional. */
export interface FormatOptions {
  /**
   * Link ceiling in GB/s drawn on charts of non-native collectives (WebSocket over
   * Ethernet: 12.5 for 100 GbE). A case's `metrics.linkGBps` wins over it; NCCL charts
   * use the catalog's NVLink figure per direction.
   */
  linkGBps?: number;
  /** Title shown at the top of human-readable reports. @default 'gpubench report' */
  title?: string;
  /** Several runs of the same cases: trends and change points (HTML and Markdown show them). */
  history?: History;
}

/**
 * One output format: a pure function from a validated results file to text, and the
 * file extension it is written with. Formats are looked up by name in `formats`.
 */
export interface Formatter {
  /** File extension without the dot, e.g. `html`, `prom`. */
  extension: string;
  /** One line for `--help`. */
  description: string;
  render(results: ResultsFile, options?: FormatOptions): string;
}
