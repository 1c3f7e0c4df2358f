/**
 * Headless Chromium for the HTML report tests: Debian's `chromium` driven by
 * playwright-core (no browser download). Missing Chromium fails the tests when
 * GPUBENCH_REQUIRE_CHROMIUM=1 (CI) and skips them otherwise, naming the fix.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is expected; GPUBENCH_CHROMIUM overrides. */
export const CHROMIUM_PATH = process.env.GPUBENCH_CHROMIUM ?? '/usr/bin/chromium';
/** True when the Chromium binary is there. */
export const haveChromium = existsSync(CHROMIUM_PATH);
/** True when CI demands the browser tests run. */
export const requireChromium = process.env.GPUBENCH_REQUIRE_CHROMIUM === '1';
/** What to do about a missing Chromium. */
export const CHROMIUM_FIX = `${CHROMIUM_PATH} not found: apt-get install -y chromium (or set GPUBENCH_CHROMIUM to a Chromium binary)`;

/** Launches headless Chromium with flags that keep it off the network and the GPU. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}
