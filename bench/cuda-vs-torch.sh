#!/usr/bin/env bash
# The GPU verification of the cuda backend, in one command on the GPU machine (which has no
# Node.js: the project travels packed in .device/, see ../shared/device/README.md):
#   here:  npm ci && npm run build && ../shared/device/pack.sh native/build
#   there: bash bench/cuda-vs-torch.sh "$OUT"        (device run with carry [".device"])
# Writes to the folder given (default $OUT): log.txt, list.json, torch.jsonl, gpubench-1.json,
# gpubench-2.json, checks.json, nccl.jsonl, summary.md (8 files, the most a device run returns). Rounds of torch and gpubench alternate so clock
# and thermal drift hit both. Exit status 1 when bf16/f16 8192^3 is below 0.95x of torch.
set -uo pipefail
out=${1:-${OUT:-/tmp/cuda-vs-torch}}
mkdir -p "$out"
# Results go to a scratch folder first: each run also writes a .jsonl beside its .json, and
# a device run returns at most 8 files, so only the .json files are copied to $out.
work=$(mktemp -d)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
run=(bash .device/run.sh)
exec > >(tee -a "$out/log.txt") 2>&1
echo "== $(date -u +%FT%TZ) $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm --format=csv
echo "== gpubench list"
"${run[@]}" node dist/cli.js list --json "$out/list.json"
: > "$out/torch.jsonl"
for r in 1 2; do
  echo "== round $r: torch"
  python3 .device/torch_matmul.py --sizes 8192 --dtypes bf16 fp16 tf32 fp32 | tee -a "$out/torch.jsonl"
  python3 bench/torch_fp8.py --sizes 8192 | tee -a "$out/torch.jsonl"
  echo "== round $r: gpubench cuda"
  "${run[@]}" node dist/cli.js run --suite bench/cuda-vs-torch.yaml --json "$work/gpubench-$r.json" --reporter console
done
echo "== correctness sweep (every case must be ok)"
"${run[@]}" node dist/cli.js run --suite bench/cuda-checks.yaml --json "$work/checks.json" --reporter console || echo "CHECKS FAILED"
echo "== NCCL all-reduce"
"${run[@]}" node bench/nccl-allreduce.mjs | tee "$out/nccl.jsonl"
echo "== no-GPU paths still hold on the GPU machine (fake and missing libraries)"
GPUBENCH_CUDA_LIBRARY_PATH=/nonexistent "${run[@]}" node dist/cli.js list | grep -E "^│ (cuda|nccl) "
echo "== summary"
"${run[@]}" node bench/cuda-vs-torch-compare.mjs "$out/torch.jsonl" "$work/gpubench-1.json" "$work/gpubench-2.json" | tee "$out/summary.md"
status=${PIPESTATUS[0]}
cp "$work"/*.json "$out/"
echo "== exit $status"
exit "$status"
