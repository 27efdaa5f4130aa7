#!/usr/bin/env bash
# Times `run --rm busybox true` with berth and, when the reference Docker is available
# (../shared/tools/reference-dockerd), with Docker on the same machine, and prints the
# medians of N runs and their ratio from this one run. As root:
#
#   bench/run-latency.sh [N]        (default N=10; builds release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/berth/target}"
cargo build --release --locked -q -p berthd -p berth-shim -p berth-cli
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /tmp/berth-bench-XXXXXX)
# A bridge, subnet, nftables table and cgroup parent of its own, removed on exit.
bridge="blat$$"
cgroup_parent="berth-bench-latency-$$"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  # berthd's mounts under its roots (the read-only shim binary, volumes).
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  nft delete table inet "berth_$bridge" 2>/dev/null || true
  nft delete table ip "berth_$bridge" 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path "*/$cgroup_parent*" -exec rmdir {} + 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A busybox rootfs from Debian's busybox-static.
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true echo; do ln -s busybox "$work/rootfs/bin/$a"; done

printf '{"bridge": "%s", "bip": "10.231.8.1/24", "cgroup-parent": "%s"}\n' \
  "$bridge" "$cgroup_parent" >"$work/daemon.json"
"$bin/berthd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$work/berth.sock" \
  --config-file "$work/daemon.json" >"$work/berthd.log" 2>&1 &
pid=$!
berth() { "$bin/berth" -H "unix://$work/berth.sock" "$@"; }
for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.05; done
tar -C "$work/rootfs" -c . | berth import - busybox:latest >/dev/null

# shellcheck source=bench/lib.sh
. bench/lib.sh

berth run --rm busybox true # warm caches
b=$(median_ms berth run --rm busybox true)
echo "berth  run --rm busybox true: median ${b} ms of $n"

reference=../shared/tools/reference-dockerd
if [ -f "$reference" ] && command -v docker >/dev/null; then
  host=$(bash "$reference" start | sed -n 's/^DOCKER_HOST=//p')
  docker_() { docker -H "$host" "$@"; }
  tar -C "$work/rootfs" -c . | docker_ import - berth-bench-busybox:latest >/dev/null
  docker_ run --rm berth-bench-busybox true
  d=$(median_ms docker_ run --rm berth-bench-busybox true)
  docker_ rmi berth-bench-busybox:latest >/dev/null
  echo "docker run --rm busybox true: median ${d} ms of $n"
  awk -v b="$b" -v d="$d" 'BEGIN { printf "docker / berth = %.1fx\n", d / b }'
else
  echo "docker: not measured (no reference dockerd)"
fi
