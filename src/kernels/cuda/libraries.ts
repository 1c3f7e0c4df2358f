/**
 * Where the CUDA libraries are looked for, in order: `GPUBENCH_CUDA_LIBRARY_PATH` alone when
 * set (folders, colon-separated: pins a driver or a toolkit, and lets tests point at empty
 * or fake folders); otherwise LD_LIBRARY_PATH, CUDA_HOME/CUDA_PATH, the usual system and
 * driver folders, Python wheel folders (`site-packages/nvidia/<pkg>/lib`, e.g. PyTorch's
 * under /opt/torch/.venv), and last the bare soname for the dynamic loader's own search.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { LibraryId, NativeAddon } from './addon.js';

/** Sonames per library, newest first. */
export const SONAMES: Record<LibraryId, string[]> = {
  cuda: ['libcuda.so.1', 'libcuda.so'],
  cublasLt: ['libcublasLt.so.13', 'libcublasLt.so.12', 'libcublasLt.so.11', 'libcublasLt.so'],
  nccl: ['libnccl.so.2', 'libnccl.so'],
  nvml: ['libnvidia-ml.so.1', 'libnvidia-ml.so'],
};

/** What to do when a library is not found, per library. */
const NOT_FOUND: Record<LibraryId, string> = {
  cuda: 'no NVIDIA driver (install the driver; in a container run with the NVIDIA container toolkit, e.g. --gpus all)',
  cublasLt: 'no cuBLAS (install the CUDA toolkit or `pip install nvidia-cublas`, then set CUDA_HOME or LD_LIBRARY_PATH)',
  nccl: 'no NCCL (install libnccl2 or `pip install nvidia-nccl-cu13`, then set LD_LIBRARY_PATH)',
  nvml: 'no NVML, which comes with the NVIDIA driver (power and clocks are not sampled)',
};

const SYSTEM_DIRS = [
  '/usr/local/nvidia/lib64',
  '/usr/local/nvidia/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/lib/wsl/lib',
  '/usr/local/cuda/lib64',
  '/usr/local/cuda/targets/x86_64-linux/lib',
];

function split(v: string | undefined): string[] {
  return (v ?? '').split(':').filter((d) => d.length > 0);
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** `<prefix>/lib/python3*\/site-packages/nvidia/*\/lib` (and dist-packages) for each prefix. */
function wheelDirs(prefixes: string[]): string[] {
  const out: string[] = [];
  for (const prefix of prefixes) {
    for (const py of subdirs(join(prefix, 'lib')).filter((d) => /python3[^/]*$/.test(d))) {
      for (const pkgs of ['site-packages', 'dist-packages']) {
        for (const pkg of subdirs(join(py, pkgs, 'nvidia'))) out.push(join(pkg, 'lib'));
      }
    }
  }
  return out;
}

/** Folders searched, in order, and whether the dynamic loader's own search follows. */
export function searchDirs(env: NodeJS.ProcessEnv = process.env): { dirs: string[]; system: boolean } {
  const pinned = env.GPUBENCH_CUDA_LIBRARY_PATH;
  if (pinned !== undefined) return { dirs: split(pinned), system: false };
  const homes = [env.CUDA_HOME, env.CUDA_PATH].filter((h): h is string => !!h);
  const prefixes = [env.VIRTUAL_ENV, env.CONDA_PREFIX, '/opt/torch/.venv', '/usr/local', '/usr', join(homedir(), '.local')].filter((p): p is string => !!p);
  const dirs = [
    ...split(env.LD_LIBRARY_PATH),
    ...homes.flatMap((h) => [join(h, 'lib64'), join(h, 'lib'), join(h, 'targets', 'x86_64-linux', 'lib')]),
    ...SYSTEM_DIRS,
    ...wheelDirs(prefixes),
    ...(env.CONDA_PREFIX ? [join(env.CONDA_PREFIX, 'lib')] : []),
  ];
  return { dirs: [...new Set(dirs)], system: true };
}

/** Candidate paths for a library: existing files in the search folders, then bare sonames. */
export function candidates(id: LibraryId, env: NodeJS.ProcessEnv = process.env): string[] {
  const { dirs, system } = searchDirs(env);
  const files = dirs.flatMap((d) => SONAMES[id].map((n) => join(d, n))).filter((p) => existsSync(p));
  return [...new Set([...files, ...(system ? SONAMES[id] : [])])];
}

/** A library that loaded, or the reason a person can act on. */
export type LibraryStatus = { ok: true; path: string } | { ok: false; reason: string };

/** Loads one library through the addon and explains a failure. */
export function openLibrary(addon: NativeAddon, id: LibraryId, env: NodeJS.ProcessEnv = process.env): LibraryStatus {
  const list = candidates(id, env);
  const r = addon.load(id, list);
  if (r.ok) return { ok: true, path: r.path ?? list[0] ?? SONAMES[id][0]! };
  const name = SONAMES[id][0]!;
  if (r.missing.length > 0) {
    const where = r.attempts.find((a) => a.includes(': lacks '))?.split(': lacks ')[0] ?? name;
    return {
      ok: false,
      reason: `${name} at ${where} lacks ${r.missing.slice(0, 3).join(', ')}${r.missing.length > 3 ? ` and ${r.missing.length - 3} more` : ''}: not a usable ${id} library or too old`,
    };
  }
  const other = r.attempts.find((a) => !/cannot open shared object file: No such file/.test(a));
  const searched = env.GPUBENCH_CUDA_LIBRARY_PATH !== undefined ? ` (searched GPUBENCH_CUDA_LIBRARY_PATH="${env.GPUBENCH_CUDA_LIBRARY_PATH}" only)` : '';
  if (other) return { ok: false, reason: `${name} could not be loaded: ${other}` };
  return { ok: false, reason: `${name} not found: ${NOT_FOUND[id]}${searched}` };
}
