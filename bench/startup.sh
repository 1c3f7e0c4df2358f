#!/usr/bin/env bash
# Start-up time of the CLI against bare Node, with hyperfine (apt-get install hyperfine).
# Targets (issue 17): `--version` and `--help` within 2.5x of `node -e 0`; `list` under 1 s.
# Usage: bench/startup.sh [RUNS]   (builds nothing: run `npm run build` first)
# Prints hyperfine's table and a verdict line per target (on medians); exits 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine not found: apt-get install -y hyperfine" >&2; exit 2; }
[ -x dist/cli.js ] || { echo "dist/cli.js missing: npm run build" >&2; exit 2; }
runs=${1:-20}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# -N: no shell in between, so the figure is Node's own start-up.
hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/t.json" \
  'node -e 0' 'node dist/cli.js --version' 'node dist/cli.js --help' 'node dist/cli.js list' 2>/dev/null
node - "$out/t.json" <<'JS'
const r = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8')).results;
// Medians: on a shared machine one stalled run would move a mean.
const mean = (cmd) => r.find((x) => x.command === cmd).median;
const base = mean('node -e 0');
let ok = true;
const verdict = (name, value, limit, unit) => {
  const pass = value <= limit;
  ok &&= pass;
  console.log(`${pass ? 'ok  ' : 'MISS'} ${name}: ${value.toFixed(2)}${unit} (limit ${limit}${unit})`);
};
// CPU time (user + system) as well: on a busy machine it moves less than wall time does.
for (const x of r) console.log(`${x.command}: median ${(x.median * 1000).toFixed(0)} ms wall, ${((x.user + x.system) * 1000).toFixed(0)} ms CPU (mean user+sys)`);
verdict('--version / node -e 0', mean('node dist/cli.js --version') / base, 2.5, 'x');
verdict('--help / node -e 0', mean('node dist/cli.js --help') / base, 2.5, 'x');
verdict('list', mean('node dist/cli.js list'), 1, ' s');
process.exitCode = ok ? 0 : 1;
JS
