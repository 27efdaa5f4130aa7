#!/usr/bin/env bash
# Push and pull throughput of `berth registry serve` next to Debian's docker-registry (the CNCF
# Distribution server) serving the same image: skopeo copies an image with one random layer
# of SIZE MiB into each registry and back out, on loopback, and prints the times of this one
# run. Needs skopeo and docker-registry.
#
#   bench/registry-throughput.sh [SIZE]    (default SIZE=256; builds a release berth first)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/berth/target}"
cargo build --release --locked -q -p berth-cli
berth="$CARGO_TARGET_DIR/release/berth"
work=$(mktemp -d /tmp/berth-registry-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# An OCI layout: a config and one incompressible layer, tagged v1.
python3 bench/oci-image.py "$work/image" "$size" 1

cat > "$work/docker-registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/docker-registry}}
http: {addr: 127.0.0.1:5302}
EOF
"$berth" registry serve --addr 127.0.0.1:5301 --storage "$work/berth" 2>/dev/null &
pids+=($!)
docker-registry serve "$work/docker-registry.yml" >/dev/null 2>&1 &
pids+=($!)
for port in 5301 5302; do
  until curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; do sleep 0.1; done
done

now() { date +%s.%N; }
measure() { # name port
  local start pushed pulled
  start=$(now)
  skopeo --insecure-policy copy -q --dest-tls-verify=false \
    "oci:$work/image:v1" "docker://127.0.0.1:$2/bench/app:v1"
  pushed=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false \
    "docker://127.0.0.1:$2/bench/app:v1" "oci:$work/pulled-$1:v1"
  pulled=$(now)
  python3 -c "push, pull = $pushed - $start, $pulled - $pushed
print(f'$1: push {push:.2f} s ({$size / push:.0f} MiB/s), pull {pull:.2f} s ({$size / pull:.0f} MiB/s)')"
}
measure berth 5301
measure docker-registry 5302
