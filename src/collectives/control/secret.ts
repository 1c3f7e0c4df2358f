/** The shared-secret check of the control and data planes. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares secrets in constant time (hashes first, so lengths do not leak either). */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(given), h(expected));
}
