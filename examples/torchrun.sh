#!/usr/bin/env bash
# gpubench under torchrun: NPROC_PER_NODE gpubench workers on each of NNODES nodes, and the
# gpubench coordinator beside them on node rank 0. Run the same line on every node:
#
#   export GPUBENCH_TOKEN=$(openssl rand -hex 16)     # the same secret on every node (never on a command line)
#   NNODES=2 NPROC_PER_NODE=8 NODE_RANK=0 MASTER_ADDR=node0 MASTER_PORT=29500 \
#     examples/torchrun.sh --suite collectives          # node 0; NODE_RANK=1 on the other node
#
# How gpubench gets on PATH: `npm install -g gpubench` (or `npm install -g /path/to/checkout`
# after `npm run build` there) on every node; or, without installing, point GPUBENCH at a build:
#   GPUBENCH="node /path/to/gpubench/dist/cli.js" examples/torchrun.sh ...
# TORCHRUN picks the launcher (default `torchrun`; e.g. TORCHRUN="python3 -m torch.distributed.run").
#
# Arguments after the script go to the coordinator (suite and measurement options, as for
# `gpubench run`). GPUBENCH_RESULTS is the results file the coordinator writes (node 0).
# GPUBENCH_WORKER_ARGS adds worker options, e.g. "--data-ports 29600-29607" for fixed data ports.
#
# Ports: torchrun's own rendezvous store (static or c10d) binds MASTER_PORT on MASTER_ADDR, so the
# gpubench coordinator listens on MASTER_PORT+1. The workers apply the same rule by themselves
# (they read MASTER_ADDR and MASTER_PORT from torchrun); GPUBENCH_COORDINATOR_PORT overrides it on
# both sides, and is exported here so torchrun hands it to every worker.
#
# Exit code: node 0 exits with the coordinator's (0 ok, 1 a check failed, 2 bad usage, 3 a runtime
# fault such as a lost peer); the other nodes with torchrun's.
set -euo pipefail

: "${NNODES:?set NNODES, the number of nodes}"
: "${NPROC_PER_NODE:?set NPROC_PER_NODE, gpubench workers (GPUs) per node}"
: "${NODE_RANK:?set NODE_RANK, this node (0 on the node that also runs the coordinator)}"
: "${MASTER_ADDR:?set MASTER_ADDR, the address of node rank 0 every node can reach}"
: "${GPUBENCH_TOKEN:?export GPUBENCH_TOKEN (the same secret on every node), e.g. \$(openssl rand -hex 16)}"
MASTER_PORT=${MASTER_PORT:-29500}
export GPUBENCH_TOKEN
if [[ -n ${GPUBENCH_COORDINATOR_PORT:-} ]]; then
  export GPUBENCH_COORDINATOR_PORT
  coordinator_port=$GPUBENCH_COORDINATOR_PORT
else
  coordinator_port=$((MASTER_PORT + 1))
fi
results=${GPUBENCH_RESULTS:-results/torchrun-$(date +%Y%m%d-%H%M%S).json}
# GPUBENCH and TORCHRUN may be commands with arguments ("node /path/dist/cli.js").
read -r -a gpubench <<<"${GPUBENCH:-gpubench}"
read -r -a torchrun <<<"${TORCHRUN:-torchrun}"
read -r -a worker_args <<<"${GPUBENCH_WORKER_ARGS:-}"

coordinator_pid=
stop_coordinator() { [[ -n $coordinator_pid ]] && kill "$coordinator_pid" 2>/dev/null || true; }
trap stop_coordinator INT TERM

if [[ $NODE_RANK == 0 ]]; then
  # Started before torchrun: the other nodes' workers start only after torchrun's rendezvous,
  # which needs this node's agent, so the coordinator is listening by then. The token comes
  # from GPUBENCH_TOKEN in the environment, never from argv (which `ps` shows to everyone).
  "${gpubench[@]}" coordinator --world-size $((NNODES * NPROC_PER_NODE)) \
    --host 0.0.0.0 --port "$coordinator_port" --json "$results" "$@" &
  coordinator_pid=$!
fi

# --no-python: torchrun runs gpubench itself; each worker reads RANK, WORLD_SIZE, LOCAL_RANK,
# MASTER_ADDR and MASTER_PORT from the environment torchrun gives it.
workers_rc=0
"${torchrun[@]}" --nnodes="$NNODES" --nproc-per-node="$NPROC_PER_NODE" --node-rank="$NODE_RANK" \
  --master-addr="$MASTER_ADDR" --master-port="$MASTER_PORT" \
  --no-python "${gpubench[@]}" worker ${worker_args[@]+"${worker_args[@]}"} || workers_rc=$?
if ((workers_rc == 127)); then
  echo "gpubench: ${torchrun[0]} not found: install PyTorch (pip install torch) or set TORCHRUN" >&2
  stop_coordinator
fi

if [[ -n $coordinator_pid ]]; then
  coordinator_rc=0
  wait "$coordinator_pid" || coordinator_rc=$?
  echo "gpubench: results in $results (coordinator exit $coordinator_rc, workers exit $workers_rc)" >&2
  exit "$coordinator_rc"
fi
exit "$workers_rc"
