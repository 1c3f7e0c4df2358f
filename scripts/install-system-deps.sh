#!/usr/bin/env bash
# System packages gpubench's tests and its no-GPU default need on Debian 12 (bookworm):
# Mesa's software Vulkan driver (lavapipe) from bookworm-backports (Debian 12's own
# Mesa 22 is too old for Dawn) and the Vulkan loader; and Chromium, which the tests of
# the HTML report drive headless; and g++, make and python3, with which `npm ci` builds the
# native CUDA addon (no CUDA needed; without them it is skipped and the cuda backend says
# why, but the addon's tests then fail). Machines with a GPU driver need only libvulkan1 to
# run benchmarks. Idempotent; run as root (or it uses sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ]; then
  grep -q 'bookworm-backports' "$src" || $sudo sed -i 's/^Suites: bookworm bookworm-updates$/& bookworm-backports/' "$src"
elif ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $sudo tee /etc/apt/sources.list.d/backports.list >/dev/null
fi
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
$sudo apt-get install -y -q chromium >/dev/null
$sudo apt-get install -y -q g++ make python3 >/dev/null
dpkg-query -W -f='installed: ${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1 chromium g++ make python3
# Real launchers for the multi-node tests (test/launch-*.test.ts): Slurm (slurmctld, slurmd and
# its clients; the tests start them by hand as root, no systemd needed) with munge for its
# authentication, Open MPI's mpirun, openssl, with which the recipes make their tokens, and
# iproute2 (ip netns, bridges, veths) for the Slurm nodes in network namespaces.
$sudo apt-get install -y -q slurm-wlm munge openmpi-bin openssl iproute2 >/dev/null
dpkg-query -W -f='installed: ${Package} ${Version}\n' slurm-wlm munge openmpi-bin openssl iproute2
# The network-namespace cluster tests (test/launch-netns.test.ts): ip and tc (with the tbf
# qdisc) from iproute2, unshare from util-linux; they also need root and the veth, bridge
# and sch_tbf kernel modules.
$sudo apt-get install -y -q iproute2 util-linux >/dev/null
dpkg-query -W -f='installed: ${Package} ${Version}\n' iproute2 util-linux
