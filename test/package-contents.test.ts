/**
 * What `npm pack` ships: the licence package.json names, and every file README.md and the
 * docs link to, so that no link breaks on npm.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './helpers/cli.js';

/** Paths `npm pack` would put in the tarball (no scripts run: dist/ is listed when built). */
function packedFiles(): Set<string> {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  expect(r.status, r.stderr).toBe(0);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return new Set(pack!.files.map((f) => f.path));
}

/** Relative link targets of a Markdown file, as package paths (anchors and URLs left out). */
function relativeLinks(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const targets = [...text.matchAll(/\]\(([^)\s]+)\)|\b(?:src|href)="([^"]+)"/g)].map((m) => (m[1] ?? m[2])!);
  return targets
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'))
    .map((t) => normalize(join(dirname(file), t.split('#')[0]!)));
}

describe('the npm package', () => {
  const files = packedFiles();

  it('carries the Apache-2.0 licence that package.json names', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('Apache-2.0');
    expect(files.has('LICENSE')).toBe(true);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  });

  it('ships every file README.md and docs/ link to', () => {
    const docs = [...files].filter((f) => f.startsWith('docs/') && f.endsWith('.md'));
    expect(docs.length).toBeGreaterThan(0);
    const missing = ['README.md', ...docs].flatMap((md) => relativeLinks(md).filter((t) => !files.has(t)).map((t) => `${md} -> ${t}`));
    expect(missing).toEqual([]);
  });
});
