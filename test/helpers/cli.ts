/** Runs the built CLI as a real child process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliResult {
  /** Exit status; −1 when the process ended on a signal (then in `signal`). */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node dist/cli.js ...args` from the project root, with a clean, non-TTY environment. */
export function gpubench(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, GPUBENCH_DEBUG: '', ...env },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/** A CLI process started in the background. */
export interface StartedCli {
  child: ChildProcess;
  /** Resolves with the exit code (-1 when killed by a signal). */
  exited: Promise<number>;
  /** Resolves with the first match of `re` in stderr; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  stderr(): string;
}

/** Starts `node dist/cli.js ...args` in the background; it is killed after `timeoutMs`. */
export function startCli(args: string[], timeoutMs = 90_000, env: NodeJS.ProcessEnv = {}): StartedCli {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, GPUBENCH_DEBUG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const listeners: (() => void)[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  child.stdout!.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve(code ?? -1); }));
  const waitFor = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = stderr.match(re);
        if (m) resolve(m);
      };
      listeners.push(check);
      check();
      void exited.then(() => reject(new Error(`exited before ${re}: ${stderr}`)));
    });
  return { child, exited, waitFor, stderr: () => stderr };
}
