/**
 * The hand-written PTX of the node-acceptance kernels (native/src/ptx.h) assembles with
 * NVIDIA's ptxas for the GPUs gpubench targets, where a CUDA toolkit is installed (the
 * driver JIT-compiles the same text at run time). Skipped, saying so, without ptxas.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';

const PTX = /R"PTX\(([\s\S]*?)\)PTX"/.exec(readFileSync(join(ROOT, 'native', 'src', 'ptx.h'), 'utf8'))![1]!;
const PTXAS = ['ptxas', '/usr/local/cuda/bin/ptxas'].find((p) => spawnSync(p, ['--version']).status === 0);

describe('the acceptance PTX', () => {
  it('defines the four kernels the addon looks up', () => {
    const entries = [...PTX.matchAll(/\.visible \.entry (\w+)\(/g)].map((m) => m[1]);
    expect(entries).toEqual(['gb_copy', 'gb_empty', 'gb_compare32', 'gb_compare16']);
  });

  for (const arch of ['sm_80', 'sm_90']) {
    it.skipIf(!PTXAS)(`assembles with ptxas for ${arch}${PTXAS ? '' : ' (skipped: no ptxas on PATH)'}`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'gpubench-ptx-'));
      try {
        writeFileSync(join(dir, 'k.ptx'), PTX);
        const r = spawnSync(PTXAS!, [`-arch=${arch}`, '-v', join(dir, 'k.ptx'), '-o', join(dir, 'k.cubin')], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        // -v reports each function it compiled.
        for (const k of ['gb_copy', 'gb_empty', 'gb_compare32', 'gb_compare16']) expect(r.stderr + r.stdout).toContain(`'${k}'`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
