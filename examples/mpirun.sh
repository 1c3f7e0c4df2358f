#!/usr/bin/env bash
# gpubench collectives launched by Open MPI's mpirun: one worker (rank) per MPI process.
#
#   examples/mpirun.sh NP [mpirun options...]
#   examples/mpirun.sh 16 --hostfile hosts --map-by ppr:8:node
#   GPUBENCH="node $HOME/gpubench/dist/cli.js" GPUBENCH_RESULTS=r.json examples/mpirun.sh 4 --oversubscribe
#
# Starts the coordinator in the background on this host (unless GPUBENCH_COORDINATOR names a
# running one), then `mpirun -np NP [options] gpubench worker`. Each worker takes its rank, world
# size and local rank from OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK; GPUBENCH_COORDINATOR
# (ws://host:port) gives only the address. Workers retry the coordinator for --connect-timeout
# while it starts. gpubench never calls MPI: mpirun only places and starts the processes.
# Exits with the coordinator's exit code (0 ok, 1 a check failed, 2 usage, 3 fault; 3 also when
# it outlives mpirun by GPUBENCH_GRACE and is stopped), or mpirun's when the coordinator is not ours.
#
# gpubench on every host: `gpubench` on PATH everywhere (`npm install -g`), or GPUBENCH names the
# command, e.g. GPUBENCH="node /shared/gpubench/dist/cli.js". mpirun passes GPUBENCH_COORDINATOR
# and GPUBENCH_TOKEN to remote ranks with -x (names only: the values never reach argv). Running as
# root is mpirun's own choice to allow: give --allow-run-as-root, or set OMPI_ALLOW_RUN_AS_ROOT=1
# and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.
#
# Environment:
#   GPUBENCH                  command that runs the CLI                 (default: gpubench)
#   GPUBENCH_ARGS             run options for the coordinator            (default: --suite collectives)
#   GPUBENCH_RESULTS          results JSON written by the coordinator    (default: gpubench-DATE.json)
#   GPUBENCH_COORDINATOR      ws://host:port of a coordinator already running (then none is started)
#   GPUBENCH_COORDINATOR_HOST address the ranks reach this host at       (default: hostname)
#   GPUBENCH_COORDINATOR_BIND address the coordinator binds              (default: 0.0.0.0)
#   GPUBENCH_COORDINATOR_PORT its port                                   (default: 29400)
#   GPUBENCH_CONNECT_TIMEOUT  ms a worker retries the coordinator        (default: 60000)
#   GPUBENCH_WORKER_ARGS      extra worker options, e.g. --data-ports 29500-29600
#   GPUBENCH_GRACE            s the coordinator gets once mpirun ends    (default: 30)
#   GPUBENCH_TOKEN            shared secret; by default a fresh one from `openssl rand -hex 16`,
#                             kept in the environment only (never argv)
set -euo pipefail

np="${1:?usage: $0 NP [mpirun options...]}"
shift
read -r -a gpubench <<<"${GPUBENCH:-gpubench}"
read -r -a run_args <<<"${GPUBENCH_ARGS:---suite collectives}"
read -r -a worker_args <<<"${GPUBENCH_WORKER_ARGS:-}"
results="${GPUBENCH_RESULTS:-gpubench-$(date +%Y%m%dT%H%M%S).json}"
grace="${GPUBENCH_GRACE:-30}"
port="${GPUBENCH_COORDINATOR_PORT:-29400}"

# Ranks come from Open MPI; leftover explicit ones would not match them.
unset GPUBENCH_RANK GPUBENCH_WORLD_SIZE GPUBENCH_LOCAL_RANK
if [ -z "${GPUBENCH_TOKEN:-}" ]; then
  GPUBENCH_TOKEN="$(openssl rand -hex 16)"
fi
export GPUBENCH_TOKEN

coord=""
stop_coordinator() { [ -z "$coord" ] || kill -TERM "$coord" 2>/dev/null || true; }
trap stop_coordinator EXIT
if [ -z "${GPUBENCH_COORDINATOR:-}" ]; then
  host="${GPUBENCH_COORDINATOR_HOST:-$(hostname)}"
  case "$host" in *:*) host="[$host]" ;; esac # an IPv6 address in a URL
  echo "gpubench: ${np} ranks, coordinator ${host}:${port}, results ${results}" >&2
  "${gpubench[@]}" coordinator --world-size "$np" --host "${GPUBENCH_COORDINATOR_BIND:-0.0.0.0}" --port "$port" \
    --json "$results" "${run_args[@]}" &
  coord=$!
  export GPUBENCH_COORDINATOR="ws://${host}:${port}"
fi

mpi_rc=0
mpirun -np "$np" -x GPUBENCH_COORDINATOR -x GPUBENCH_TOKEN "$@" \
  "${gpubench[@]}" worker --connect-timeout "${GPUBENCH_CONNECT_TIMEOUT:-60000}" "${worker_args[@]}" || mpi_rc=$?

if [ -z "$coord" ]; then
  echo "gpubench: mpirun exit ${mpi_rc}" >&2
  exit "$mpi_rc"
fi
# The coordinator ends right after the workers (done, or a lost rank); one that never saw them
# (mpirun failed to start them) would wait for its rendezvous timeout, so it gets $grace seconds.
i=0
while kill -0 "$coord" 2>/dev/null && [ "$i" -lt "$grace" ]; do sleep 1; i=$((i + 1)); done
stopped=0
if kill -0 "$coord" 2>/dev/null; then
  echo "gpubench: coordinator still running ${grace}s after mpirun ended; stopping it" >&2
  stopped=1
  kill -TERM "$coord" 2>/dev/null || true
  for _ in 1 2 3 4 5; do kill -0 "$coord" 2>/dev/null || break; sleep 1; done
  kill -KILL "$coord" 2>/dev/null || true
fi
coord_rc=0
wait "$coord" || coord_rc=$?
coord=""
[ "$stopped" = 0 ] || coord_rc=3
echo "gpubench: coordinator exit ${coord_rc}, mpirun exit ${mpi_rc}, results ${results}" >&2
exit "$coord_rc"
