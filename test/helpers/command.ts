/** Runs a real command to completion without blocking the test's event loop. */
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit code; -1 when killed by a signal (see `signal`). */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** True when it ran past `timeoutMs` and was killed. */
  timedOut: boolean;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed (its process group: SIGTERM, then SIGKILL after 3 s) past this. @default 60000 */
  timeoutMs?: number;
}

/**
 * `cmd ...args` in its own process group, so a timeout stops it and every child it started
 * (mpirun's ranks, a shell's background jobs) by that group's id, never by name.
 */
export function runCommand(cmd: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let timedOut = false;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  let hard: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    hard = setTimeout(() => killGroup('SIGKILL'), 3000);
  }, opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (hard) clearTimeout(hard);
      // Whatever the command left behind in its group goes with it.
      killGroup('SIGKILL');
      resolve({ code: code ?? -1, signal, stdout, stderr, ms: performance.now() - t0, timedOut });
    });
  });
}
