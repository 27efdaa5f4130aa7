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
# The CLI's side-by-side comparison with the docker CLI, once more against berthd itself
# (interactive sessions through a pty included): a daemon of its own, removed afterwards.
compare_against_berthd() {
  local dir; dir=$(mktemp -d /tmp/berth-compare-XXXXXX)
  echo '{"bridge": "btcompare", "bip": "10.251.7.1/24", "cgroup-parent": "berth-compare"}' >"$dir/daemon.json"
  "$CARGO_TARGET_DIR/debug/berthd" --data-root "$dir/data" --exec-root "$dir/exec" \
    -H "unix://$dir/berth.sock" --config-file "$dir/daemon.json" >"$dir/berthd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [ -S "$dir/berth.sock" ] && break; sleep 0.1; done
  local rc=0
  BERTH_REFERENCE_DOCKER_HOST="unix://$dir/berth.sock" cargo test -p berth-cli --locked --test against_docker || rc=$?
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Containers outlive berthd by design: end any a failed test left, by their recorded pids.
  for f in "$dir"/exec/containers/*/init.pid "$dir"/exec/containers/*/shim.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  sleep 0.2
  grep -o "$dir[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del btcompare 2>/dev/null || true
  nft delete table inet berth_btcompare 2>/dev/null || true
  nft delete table ip berth_btcompare 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path '*berth-compare*' -exec rmdir {} + 2>/dev/null || true
  rm -rf "$dir"
  return $rc
}
compare_against_berthd

# Compose's live tests drive a real Docker and read its published ports on 127.0.0.1, so
# they run inside the reference daemon's network namespace. Without one they skip locally
# (and fail under CI, which always has it).
if [ -n "${BERTH_REFERENCE_DOCKER_HOST:-}" ]; then
  bash "$reference" exec env BERTH_COMPOSE_TEST_HOST="$BERTH_REFERENCE_DOCKER_HOST" \
    cargo test -p berth-compose --locked
else
  cargo test -p berth-compose --locked
fi
