#!/usr/bin/env bash
# Installs what berth's tests need (Debian/Ubuntu, as root) and runs every check CI runs:
# formatting, clippy, the build, and all tests — unit tests and the end-to-end tests that
# start real berthd daemons with real namespaces, overlayfs and the docker CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse one build directory across clones so CI rebuilds only what changed.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/berth/target}"
mkdir -p "$CARGO_TARGET_DIR"

missing=()
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)   # test images
command -v docker >/dev/null 2>&1 || missing+=(docker.io)             # docker CLI compatibility tests
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)         # pull and push tests
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose) # compose 1.29 against berthd
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)                # registry server interop tests
command -v curl >/dev/null 2>&1 || missing+=(curl)                    # registry server TLS test
command -v openssl >/dev/null 2>&1 || missing+=(openssl)              # its self-signed certificate
command -v ip >/dev/null 2>&1 || missing+=(iproute2)                  # test teardown of bridges
command -v nft >/dev/null 2>&1 || missing+=(nftables)                 # test teardown of nft tables
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# A real Docker in its own network namespace, for the test that compares berth's CLI output
# with docker's against the same daemon (shared/tools/reference-dockerd, beside the clone).
reference=../shared/tools/reference-dockerd
if [ -f "$reference" ]; then
  trap 'bash "$reference" stop --purge >/dev/null 2>&1 || true' EXIT
  export BERTH_REFERENCE_DOCKER_HOST
  BERTH_REFERENCE_DOCKER_HOST=$(bash "$reference" start | sed -n 's/^DOCKER_HOST=//p')
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
# The end-to-end tests find berthd, berth-shim and berth next to the test executables.
cargo test --workspace --locked --exclude berth-compose
# Runs "$@" with BERTHD_HOST naming a berthd of its own (bridge $1, its address $2, user
# networks from the pool $3), which is removed afterwards with all it made.
with_berthd() {
  local bridge=$1 bip=$2 pool=$3; shift 3
  local dir; dir=$(mktemp -d "/tmp/berth-$bridge-XXXXXX")
  printf '{"bridge": "%s", "bip": "%s", "cgroup-parent": "berth-%s",
    "default-address-pools": [{"base": "%s", "size": 24}]}\n' "$bridge" "$bip" "$bridge" "$pool" \
    >"$dir/daemon.json"
  "$CARGO_TARGET_DIR/debug/berthd" --data-root "$dir/data" --exec-root "$dir/exec" \
    -H "unix://$dir/berth.sock" --config-file "$dir/daemon.json" >"$dir/berthd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -S "$dir/berth.sock" ] && break; sleep 0.1; done
  local rc=0
  BERTHD_HOST="unix://$dir/berth.sock" "$@" || rc=$?
  # What a failed test left: its containers and user networks, then the daemon.
  local berth=("$CARGO_TARGET_DIR/debug/berth" -H "unix://$dir/berth.sock")
  "${berth[@]}" ps -aq | xargs -r "${berth[@]}" rm -f >/dev/null 2>&1 || true
  "${berth[@]}" network prune -f >/dev/null 2>&1 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Containers outlive berthd by design: end any still there, by their recorded pids.
  for f in "$dir"/exec/containers/*/init.pid "$dir"/exec/containers/*/shim.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  sleep 0.2
  grep -o "$dir[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  nft delete table inet "berth_$bridge" 2>/dev/null || true
  nft delete table ip "berth_$bridge" 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path "*berth-$bridge*" -exec rmdir {} + 2>/dev/null || true
  rm -rf "$dir"
  return $rc
}
# The CLI's side-by-side comparison with the docker CLI, once more against berthd itself
# (interactive sessions through a pty included).
compare_cli() {
  BERTH_REFERENCE_DOCKER_HOST=$BERTHD_HOST cargo test -p berth-cli --locked --test against_docker
}
with_berthd btcompare 10.251.7.1/24 10.252.0.0/16 compare_cli
# Compose against berthd: projects up and down, services talking by name, published ports.
compose_live() {
  BERTH_COMPOSE_TEST_HOST=$BERTHD_HOST cargo test -p berth-compose --locked --test live
}
with_berthd btcompose 10.251.8.1/24 10.253.0.0/16 compose_live

# Compose's live tests drive a real Docker and read its published ports on 127.0.0.1, so
# they run inside the reference daemon's network namespace. Without one they skip locally
# (and fail under CI, which always has it).
if [ -n "${BERTH_REFERENCE_DOCKER_HOST:-}" ]; then
  bash "$reference" exec env BERTH_COMPOSE_TEST_HOST="$BERTH_REFERENCE_DOCKER_HOST" \
    cargo test -p berth-compose --locked
else
  cargo test -p berth-compose --locked
fi
