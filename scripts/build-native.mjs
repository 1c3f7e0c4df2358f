#!/usr/bin/env node
// Builds the optional CUDA addon (native/) with node-gyp during `npm ci`/`npm install`.
// It never fails the install: users who only want WebGPU need no C++ toolchain, and the
// `cuda` backend then reports "native addon not built: <reason>" (read from the marker file
// this script writes). Set GPUBENCH_SKIP_NATIVE=1 to skip the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const marker = join(nativeDir, 'build', 'gpubench-build-error.txt');
const require = createRequire(import.meta.url);

function report(reason) {
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(marker, `${reason}\n`);
  console.warn(`gpubench: native CUDA addon not built (${reason}); the cuda backend will be unavailable, everything else works.`);
}

/** node-gyp's entry script: npm's own copy (npm_config_node_gyp), a local one, or npm's bundled one. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  const npmDir = process.env.npm_execpath ? dirname(dirname(process.env.npm_execpath)) : undefined;
  if (npmDir) candidates.push(join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => c && existsSync(c));
}

if (process.env.GPUBENCH_SKIP_NATIVE === '1') {
  report('GPUBENCH_SKIP_NATIVE=1');
  process.exit(0);
}
if (process.platform !== 'linux') {
  report(`the CUDA addon is built on Linux only (this is ${process.platform})`);
  process.exit(0);
}
const gyp = findNodeGyp();
if (!gyp) {
  report('node-gyp not found: install it (npm i -g node-gyp) and run `npm rebuild gpubench`, or `npm run build:native` in a checkout of gpubench');
  process.exit(0);
}
try {
  require.resolve('node-addon-api');
} catch {
  report('node-addon-api is not installed: run `npm install` first');
  process.exit(0);
}
rmSync(marker, { force: true });
const args = [gyp, 'rebuild', '--jobs', 'max', '--directory', nativeDir];
// Headers next to this Node (distro and nvm installs have them) avoid a download.
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const firstError = out.split('\n').find((l) => /error|not found|No such/i.test(l))?.trim();
  report(`node-gyp failed${firstError ? `: ${firstError.slice(0, 300)}` : ` with status ${r.status}`}`);
  console.warn(out.split('\n').slice(-15).join('\n'));
  rmSync(join(nativeDir, 'build', 'Release', 'gpubench_native.node'), { force: true });
  writeFileSync(marker, `node-gyp failed${firstError ? `: ${firstError.slice(0, 300)}` : ''}\n`);
  process.exit(0);
}
console.log(`gpubench: native CUDA addon built in ${((Date.now() - t0) / 1000).toFixed(1)} s (native/build/Release/gpubench_native.node)`);
