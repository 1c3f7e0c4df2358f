#!/usr/bin/env node
/** The `gpubench` executable. */
import { main } from './harness/cli/main.js';
import { exitSoon } from './harness/cli/exit.js';

main().then(
  (code) => {
    process.exitCode = code;
    exitSoon(code);
  },
  (err: unknown) => {
    process.stderr.write(`gpubench: fault: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 3;
    exitSoon(3);
  },
);
