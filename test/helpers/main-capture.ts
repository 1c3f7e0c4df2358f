/** Runs the CLI's `main` in this process with stdout and stderr captured (for commands that need no child process). */
import { vi } from 'vitest';
import { main } from '../../src/harness/cli/main.js';

/** What one in-process CLI call printed, and its exit code. */
export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** `gpubench ARGS...` through `main`, its console output captured. */
export async function captureMain(...args: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'gpubench', ...args]), out, err };
  } finally {
    vi.restoreAllMocks();
  }
}
