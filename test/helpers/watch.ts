/**
 * Watches a started child process: collects its stderr, resolves `exited` with its exit
 * code (killing it by pid after `timeoutMs`), and waits for lines in its stderr.
 */
import type { ChildProcess } from 'node:child_process';

/** A watched child process. */
export interface Watched {
  child: ChildProcess;
  /** Resolves with the exit code (-1 when killed by a signal). */
  exited: Promise<number>;
  /** When it exited (Date.now()), once it has. */
  exitedAt(): number | undefined;
  /** Resolves with the first match of `re` in stderr; rejects on exit or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stderr(): string;
}

/** Watches `child`; it is SIGKILLed if still running after `timeoutMs`, so nothing waits forever. */
export function watch(child: ChildProcess, timeoutMs: number): Watched {
  let stderr = '';
  let at: number | undefined;
  const listeners = new Set<() => void>();
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  child.stdout?.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => {
    at = Date.now();
    clearTimeout(timer);
    resolve(code ?? -1);
  }));
  const waitFor = (re: RegExp, ms = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const done = () => {
        listeners.delete(check);
        clearTimeout(t);
      };
      const check = () => {
        const m = stderr.match(re);
        if (m) {
          done();
          resolve(m);
        }
      };
      const t = setTimeout(() => { done(); reject(new Error(`no ${re} within ${ms} ms: ${stderr}`)); }, ms);
      listeners.add(check);
      check();
      void exited.then(() => { if (listeners.has(check)) { done(); reject(new Error(`exited before ${re}: ${stderr}`)); } });
    });
  return { child, exited, exitedAt: () => at, waitFor, stderr: () => stderr };
}
