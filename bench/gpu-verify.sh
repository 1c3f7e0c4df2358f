#!/usr/bin/env bash
# Every GPU path gpubench has that no test here can reach, in one command on the GPU machine
# (one H100/H200, no Node.js: the project travels packed in .device/, ../shared/device/README.md):
#   here:  npm ci && npm run build && ../shared/device/pack.sh native/build
#   there: bash bench/gpu-verify.sh "$OUT"          (device run, carry [".device"], timeout 600)
# Each step has its own time limit, so one stuck step cannot eat the session's device time;
# the whole script stays under about 8 minutes. Writes to the folder given (default $OUT) at
# most 8 files: log.txt, list.json, accept.json, nccl1.json, nccl-tests.txt, world.json,
# matmul.json, summary.txt. Exit status: the number of steps that failed (0 = all ok).
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu-verify}}
mkdir -p "$out"
work=$(mktemp -d)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
run=(bash .device/run.sh node dist/cli.js)
exec > >(tee -a "$out/log.txt") 2>&1
failed=0
: > "$out/summary.txt"
# step NAME SECONDS CMD...: runs CMD under a limit and records ok/FAILED with its exit code.
step() {
  local name=$1 limit=$2
  shift 2
  echo "== $(date -u +%T) $name (limit ${limit}s): $*"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  local verdict=ok
  [ "$rc" -eq 0 ] || { verdict="FAILED (exit $rc)"; failed=$((failed + 1)); }
  echo "$name: $verdict in $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
}
# Results files also leave a .jsonl beside them: write to $work, copy the .json only.
keep() { for f in "$@"; do [ -f "$work/$f" ] && cp "$work/$f" "$out/"; done; }

echo "== $(date -u +%FT%TZ) $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm,pcie.link.gen.max,pcie.link.width.current --format=csv
nvidia-smi topo -m || true

# 1. list: backends, NCCL version, and the topology NVML gives (NVLink version per link, PCIe).
step list 60 "${run[@]}" list --json "$out/list.json"

# 2. Node acceptance: nvbandwidth's host copies, the peer matrix (1 GPU: skipped, saying so),
#    launch latency, a 30 s burn; exit 1 on any fault. The PTX kernels load on this driver.
step acceptance 150 "${run[@]}" run --suite acceptance --backends cuda --burn-seconds 30 --json "$work/accept.json" --reporter console
keep accept.json

# 3. NCCL across processes, one GPU per process, every collective and a dtype sweep: one
#    worker here (one GPU), so busbw is 0 by definition; the point is that every call runs and
#    checks on a real NCCL (ncclCommInitRank bootstrapped by gpubench's control plane).
step nccl-1rank 120 "${run[@]}" run --local-nodes 1 --backends nccl \
  --workloads allreduce,allgather,reducescatter,broadcast,reduce,alltoall,gather,scatter,sendrecv \
  -d float,half,bfloat16,int8,uint64,double,fp8_e4m3 -b 8 -e 64MiB -f 8 --min-time 100 --warmup 20 \
  --json "$work/nccl1.json" --reporter silent
keep nccl1.json

# 4. nccl-tests' own output format, to diff against nccl-tests' all_reduce_perf on the same GPU.
step nccl-tests-format 60 "${run[@]}" run --local-nodes 1 --backends nccl --workloads allreduce \
  -b 8 -e 256MiB -f 4 -n 20 -w 5 --format nccl-tests --json "$work/nt.json" > "$out/nccl-tests.txt"

# 5. Two ranks on one GPU: NCCL refuses two ranks on one device; gpubench must say so at
#    planning (cuda:1 does not exist on a one-GPU host) and exit 0 with the cases skipped, naming it.
step two-ranks-one-gpu 90 bash -c "${run[*]} run --local-nodes 2 --backends nccl --workloads allreduce -b 1MiB -e 1MiB --json $work/world.json --reporter console 2>&1 | tee $work/two.txt; grep -q 'cuda:1 does not exist' $work/two.txt"
keep world.json

# 6. The coordinator needs no GPU: hide the GPU from it only (workers keep it).
step coordinator-without-gpu 90 bash -c "CUDA_VISIBLE_DEVICES= ${run[*]} run --local-nodes 1 --backends nccl --workloads allreduce -b 1MiB -e 16MiB -f 4 --reporter silent --json $work/nogpu.json"

# 7. bf16 GEMM against the shipped acceptance floors of this GPU (H100 or H200 profile).
profile=h100-sxm
nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && profile=h200
step matmul-floors 150 "${run[@]}" run --backends cuda --workloads matmul --dtypes bf16,f16,fp8 --sizes 4096,8192 \
  --acceptance "$profile" --json "$work/matmul.json" --reporter console
keep matmul.json

echo "== $(date -u +%T) done: $failed step(s) failed"
cat "$out/summary.txt"
rm -rf "$work"
exit "$failed"
