/**
 * Background gpubench processes with exactly the environment given (helpers/cli.ts' startCli
 * adds this process's), as a launcher would start them:
 * torchrun's and Kubernetes' workers get the launcher's variables and nothing else of the
 * test runner's (no stray RANK or SLURM_* from the machine the tests run on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT } from './cli.js';

/** The few variables any process inherits from the shell a launcher runs in. */
export function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LD_LIBRARY_PATH', 'SystemRoot'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

/** A gpubench process running in the background. */
export interface CliProcess {
  child: ChildProcess;
  /** Resolves with the exit code (-1 when killed by a signal). */
  exited: Promise<number>;
  /** Resolves with the first match of `re` in stderr; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  stderr(): string;
  /** SIGKILL if still running. */
  stop(): void;
}

/**
 * `node dist/cli.js ...args` with exactly `env` (nothing of this process's environment),
 * killed after `timeoutMs` so no test can leave it behind.
 */
export function startCliExactEnv(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 90_000): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let running = true;
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const l of listeners) l();
  });
  child.stdout!.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code) => {
      running = false;
      clearTimeout(timer);
      resolve(code ?? -1);
    }),
  );
  const waitFor = (re: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = stderr.match(re);
        if (m) {
          listeners.delete(check);
          resolve(m);
        }
      };
      listeners.add(check);
      check();
      void exited.then(() => reject(new Error(`exited before ${re}: ${stderr}`)));
    });
  const stop = () => {
    if (running) child.kill('SIGKILL');
  };
  return { child, exited, waitFor, stderr: () => stderr, stop };
}
