#!/usr/bin/env bash
# Pull throughput of berthd next to the reference Docker (../shared/tools/reference-dockerd):
# an image of four gzip layers of random data, SIZE MiB in all, is pushed by skopeo into
# Debian's docker-registry, then pulled N times by each daemon (the image removed in between).
# The registry and both daemons run in the reference Docker's network namespace, so the two
# pull over the same loopback. Prints the medians of this one run and their ratio. As root:
#
#   bench/pull-throughput.sh [SIZE] [N]    (default SIZE=200, N=3; builds release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-200}
n=${2:-3}
reference=../shared/tools/reference-dockerd
for tool in skopeo docker-registry docker; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
[ -f "$reference" ] || { echo "needs $reference" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/berth/target}"
cargo build --release --locked -q -p berthd -p berth-shim -p berth-cli
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /tmp/berth-pull-bench-XXXXXX)
bridge="bpull$$"
cgroup_parent="berth-bench-pull-$$"
port=5303
image="127.0.0.1:$port/bench/big:v1"
host=$(bash "$reference" start | sed -n 's/^DOCKER_HOST=//p')
# (The script execs nsenter, which execs the command: `$!` of `bash "$reference" exec CMD &`
# is CMD itself, so the cleanup below ends the right process.)
in_ns() { bash "$reference" exec "$@"; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  in_ns ip link del "$bridge" 2>/dev/null || true
  in_ns nft delete table inet "berth_$bridge" 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path "*/$cgroup_parent*" -exec rmdir {} + 2>/dev/null || true
  docker -H "$host" rmi "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# An OCI layout: four tar+gzip layers, each one file of random bytes.
python3 bench/oci-image.py "$work/image" "$size" 4 --gzip

cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
bash "$reference" exec docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
until in_ns curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; do sleep 0.1; done
in_ns skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/image:v1" "docker://$image"

printf '{"bridge": "%s", "bip": "10.232.9.1/24", "cgroup-parent": "%s"}\n' \
  "$bridge" "$cgroup_parent" >"$work/daemon.json"
bash "$reference" exec "$bin/berthd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$work/berth.sock" \
  --config-file "$work/daemon.json" >"$work/berthd.log" 2>&1 &
pids+=($!)
berth() { "$bin/berth" -H "unix://$work/berth.sock" "$@"; }
for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.05; done
docker_() { docker -H "$host" "$@"; }

# shellcheck source=bench/lib.sh
. bench/lib.sh
pull_then_remove() { "$1" pull -q "$image" && "$1" rmi "$image"; }
b=$(median_ms pull_then_remove berth)
d=$(median_ms pull_then_remove docker_)
awk -v b="$b" -v d="$d" -v s="$size" -v n="$n" 'BEGIN {
  printf "berth  pull of %d MiB (with rmi): median %.0f ms of %d (%.0f MiB/s)\n", s, b, n, s * 1000 / b
  printf "docker pull of %d MiB (with rmi): median %.0f ms of %d (%.0f MiB/s)\n", s, d, n, s * 1000 / d
  printf "docker / berth = %.1fx\n", d / b
}'
