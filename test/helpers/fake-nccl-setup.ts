/**
 * The set-up the multi-process NCCL tests share: the native addon, the fake libcuda and
 * libnccl built from it (test/helpers/fake-cuda.ts), temp folders removed after the file,
 * and why the fake-library tests skip where the addon or a C compiler is missing.
 */
import { afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon, type NativeAddon } from '../../src/kernels/cuda/addon.js';
import { buildFakes, CC } from './fake-cuda.js';

/** What a test file gets from `fakeNcclSetup`. */
export interface FakeNcclSetup {
  addon: NativeAddon | undefined;
  /** Why the fake-library tests cannot run here ('' when they can). */
  why: string;
  /** A fresh temp folder, removed after the file. */
  tmp: () => string;
  /** The folder of the fake libraries ('' when they could not be built). */
  fakes: string;
}

/** Call once at a test file's top level; `prefix` names its temp folders. */
export function fakeNcclSetup(prefix: string): FakeNcclSetup {
  const loaded = loadAddon();
  const addon = 'addon' in loaded ? loaded.addon : undefined;
  const why = !addon ? `native addon not built (${'reason' in loaded ? loaded.reason : ''}): run npm run build:native` : !CC ? 'no C compiler (cc, gcc or clang) for the fake CUDA libraries: install gcc' : '';
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const fakes = addon && CC ? buildFakes(addon, ['cuda', 'nccl']) : '';
  if (fakes) dirs.push(fakes);
  return { addon, why, tmp, fakes };
}
