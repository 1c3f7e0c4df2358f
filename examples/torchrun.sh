#!/usr/bin/env bash
# gpubench collectives launched by torchrun: NPROC_PER_NODE workers (ranks) on each of NNODES
# nodes, and the coordinator beside them on node rank 0. Run the same line on every node:
#
#   export GPUBENCH_TOKEN=$(openssl rand -hex 16)   # the same secret on every node
#   NNODES=2 NPROC_PER_NODE=8 NODE_RANK=0 MASTER_ADDR=node0 examples/torchrun.sh   # on node0
#   NNODES=2 NPROC_PER_NODE=8 NODE_RANK=1 MASTER_ADDR=node0 examples/torchrun.sh   # on node1
#
# On every node this runs
#   torchrun --nnodes=N --nproc-per-node=G --node-rank=R --master-addr=A --master-port=P \
#     --no-python gpubench worker
# and each worker takes its rank, world size and local rank from torchrun's RANK, WORLD_SIZE and
# LOCAL_RANK, and the coordinator's address from MASTER_ADDR. On node rank 0 it first starts
# `gpubench coordinator --world-size N*G` in the background and exits with its exit code (0 ok,
# 1 a check failed, 2 usage, 3 fault; 3 also when it outlives torchrun by GPUBENCH_GRACE and is
# stopped); the other nodes exit with torchrun's.
#
# Ports: torchrun's own rendezvous store (static or c10d) binds MASTER_PORT on node 0, so the
# gpubench coordinator listens on MASTER_PORT + 1. The workers apply the same rule by themselves;
# GPUBENCH_COORDINATOR_PORT overrides it on both sides (this script exports it, and torchrun
# passes its environment on to the workers). Open MASTER_PORT, MASTER_PORT + 1 and the data
# ports (any, or GPUBENCH_WORKER_ARGS="--data-ports A-B") between the nodes.
#
# gpubench on every node: `gpubench` on PATH everywhere (`npm install -g gpubench`, or
# `npm install -g /path/to/checkout`), or GPUBENCH names the command, e.g.
# GPUBENCH="node /shared/gpubench/dist/cli.js" for a checkout on a shared file system.
# torchrun comes with PyTorch (`pip install torch`); TORCHRUN names another command for it,
# e.g. TORCHRUN="python3 -m torch.distributed.run".
#
# Environment:
#   NNODES, NPROC_PER_NODE, NODE_RANK, MASTER_ADDR   torchrun's --nnodes, --nproc-per-node,
#                             --node-rank, --master-addr (required; MASTER_ADDR: node 0's address)
#   MASTER_PORT               torchrun's --master-port                 (default: 29500)
#   GPUBENCH_TOKEN            shared secret, the same on every node (required); it only ever
#                             travels in the environment, never argv
#   GPUBENCH                  command that runs the CLI                (default: gpubench)
#   TORCHRUN                  command that runs torchrun               (default: torchrun)
#   GPUBENCH_ARGS             run options for the coordinator           (default: --suite collectives)
#   GPUBENCH_RESULTS          results JSON written on node 0           (default: gpubench-DATE.json)
#   GPUBENCH_COORDINATOR_PORT the coordinator's port                   (default: MASTER_PORT + 1)
#   GPUBENCH_COORDINATOR_BIND address the coordinator binds            (default: 0.0.0.0)
#   GPUBENCH_CONNECT_TIMEOUT  ms a worker retries the coordinator      (default: 60000)
#   GPUBENCH_WORKER_ARGS      extra worker options, e.g. --data-ports 29600-29615
#   GPUBENCH_GRACE            s the coordinator gets once torchrun ends (default: 30)
set -euo pipefail

: "${NNODES:?set NNODES, the number of nodes}"
: "${NPROC_PER_NODE:?set NPROC_PER_NODE, workers (GPUs) per node}"
: "${NODE_RANK:?set NODE_RANK, this node (0 on the node that also runs the coordinator)}"
: "${MASTER_ADDR:?set MASTER_ADDR, the address of node rank 0 that every node reaches}"
# A fresh token per node would not match: every node must be given the same one.
: "${GPUBENCH_TOKEN:?export GPUBENCH_TOKEN, the same on every node, e.g. \$(openssl rand -hex 16)}"
export GPUBENCH_TOKEN
master_port="${MASTER_PORT:-29500}"
read -r -a gpubench <<<"${GPUBENCH:-gpubench}"
read -r -a torchrun <<<"${TORCHRUN:-torchrun}"
read -r -a run_args <<<"${GPUBENCH_ARGS:---suite collectives}"
read -r -a worker_args <<<"${GPUBENCH_WORKER_ARGS:-}"
results="${GPUBENCH_RESULTS:-gpubench-$(date +%Y%m%dT%H%M%S).json}"
grace="${GPUBENCH_GRACE:-30}"
if [ -n "${GPUBENCH_COORDINATOR_PORT:-}" ]; then
  export GPUBENCH_COORDINATOR_PORT
  port="$GPUBENCH_COORDINATOR_PORT"
else
  port=$((master_port + 1))
fi

# Ranks and the address come from torchrun; leftover explicit ones would not match them.
unset GPUBENCH_RANK GPUBENCH_WORLD_SIZE GPUBENCH_LOCAL_RANK GPUBENCH_COORDINATOR

coord=""
stop_coordinator() { [ -z "$coord" ] || kill -TERM "$coord" 2>/dev/null || true; }
trap stop_coordinator EXIT
if [ "$NODE_RANK" = 0 ]; then
  # Started before torchrun: the other nodes' workers start only once torchrun's rendezvous has
  # reached this node's agent, so by then the coordinator is listening (and workers retry anyway).
  echo "gpubench: $((NNODES * NPROC_PER_NODE)) ranks, coordinator ${MASTER_ADDR}:${port}, results ${results}" >&2
  "${gpubench[@]}" coordinator --world-size $((NNODES * NPROC_PER_NODE)) \
    --host "${GPUBENCH_COORDINATOR_BIND:-0.0.0.0}" --port "$port" --json "$results" "${run_args[@]}" &
  coord=$!
fi

torchrun_rc=0
"${torchrun[@]}" --nnodes="$NNODES" --nproc-per-node="$NPROC_PER_NODE" --node-rank="$NODE_RANK" \
  --master-addr="$MASTER_ADDR" --master-port="$master_port" \
  --no-python "${gpubench[@]}" worker --connect-timeout "${GPUBENCH_CONNECT_TIMEOUT:-60000}" \
  ${worker_args[@]+"${worker_args[@]}"} || torchrun_rc=$?

if [ -z "$coord" ]; then
  echo "gpubench: torchrun exit ${torchrun_rc}" >&2
  exit "$torchrun_rc"
fi
# The coordinator ends right after the workers (done, or a lost rank); one that never saw them
# (torchrun failed to start them) would wait for its rendezvous timeout, so it gets $grace seconds.
i=0
while kill -0 "$coord" 2>/dev/null && [ "$i" -lt "$grace" ]; do sleep 1; i=$((i + 1)); done
stopped=0
if kill -0 "$coord" 2>/dev/null; then
  echo "gpubench: coordinator still running ${grace}s after torchrun ended; stopping it" >&2
  stopped=1
  kill -TERM "$coord" 2>/dev/null || true
  for _ in 1 2 3 4 5; do kill -0 "$coord" 2>/dev/null || break; sleep 1; done
  kill -KILL "$coord" 2>/dev/null || true
fi
coord_rc=0
wait "$coord" || coord_rc=$?
coord=""
[ "$stopped" = 0 ] || coord_rc=3
echo "gpubench: coordinator exit ${coord_rc}, torchrun exit ${torchrun_rc}, results ${results}" >&2
exit "$coord_rc"
