/** The (merged, validated) results file itself, pretty-printed: `gpubench.results/v1`. */
import type { Formatter } from './formatter.js';

export const json: Formatter = {
  extension: 'json',
  description: 'the results contract itself (gpubench.results/v1)',
  render(results) {
    return `${JSON.stringify(results, null, 2)}\n`;
  },
};
