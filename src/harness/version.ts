import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Root of the installed package (where package.json, configs/ and schemas/ live). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let cached: string | undefined;

/** gpubench's own version, from package.json. */
export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
