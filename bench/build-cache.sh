#!/usr/bin/env bash
# Times a small classic-builder build of 10 steps (ARG, FROM busybox, LABEL, ENV, WORKDIR, COPY,
# three RUNs, CMD) with berth: cold (--no-cache) and fully cached, medians of N builds each;
# with Docker too when the reference Docker (../shared/tools/reference-dockerd) runs. As root:
#
#   bench/build-cache.sh [N]     (default N=5; builds release binaries first, unless
#                                 BERTH_BIN_DIR names a directory with berthd/berth/berth-shim)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
if [ -n "${BERTH_BIN_DIR:-}" ]; then
  bin=$BERTH_BIN_DIR
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/berth/target}"
  cargo build --release --locked -q -p berthd -p berth-shim -p berth-cli
  bin="$CARGO_TARGET_DIR/release"
fi
work=$(mktemp -d /tmp/berth-bench-build-XXXXXX)
# A bridge, subnet, nftables table and cgroup parent of its own, removed on exit.
bridge="bbld$$"
cgroup_parent="berth-bench-build-$$"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
  nft delete table inet "berth_$bridge" 2>/dev/null || true
  nft delete table ip "berth_$bridge" 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path "*/$cgroup_parent*" -exec rmdir {} + 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/context"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true echo cat wc; do ln -s busybox "$work/rootfs/bin/$a"; done
cat >"$work/context/Dockerfile" <<'DOCKERFILE'
ARG BASE=busybox
FROM $BASE
LABEL org.opencontainers.image.title=berth-bench-build
ENV APP=/app
WORKDIR /app
COPY data.txt .
RUN echo one > one.txt
RUN echo two > two.txt && cat data.txt one.txt two.txt > all.txt
RUN wc -c all.txt > size.txt
CMD ["cat", "/app/all.txt"]
DOCKERFILE
echo data >"$work/context/data.txt"

printf '{"bridge": "%s", "bip": "10.231.7.1/24", "cgroup-parent": "%s",
  "default-address-pools": [{"base": "10.232.0.0/20", "size": 24}]}\n' \
  "$bridge" "$cgroup_parent" >"$work/daemon.json"
"$bin/berthd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$work/berth.sock" \
  --config-file "$work/daemon.json" >"$work/berthd.log" 2>&1 &
pid=$!
berth() { "$bin/berth" -H "unix://$work/berth.sock" "$@"; }
for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.05; done
tar -C "$work/rootfs" -c . | berth import -c 'CMD ["sh"]' - busybox:latest >/dev/null

# shellcheck source=bench/lib.sh
. bench/lib.sh

berth build -q -t bench "$work/context" >/dev/null # the cache, for the cached runs
cold=$(median_ms berth build -q --no-cache -t bench "$work/context")
cached=$(median_ms berth build -q -t bench "$work/context")
echo "berth  build, cold (--no-cache): median ${cold} ms of $n"
echo "berth  build, fully cached:      median ${cached} ms of $n"

reference=../shared/tools/reference-dockerd
if [ -f "$reference" ] && command -v docker >/dev/null && command -v dockerd >/dev/null; then
  host=$(bash "$reference" start | sed -n 's/^DOCKER_HOST=//p')
  docker_() { DOCKER_BUILDKIT=0 docker -H "$host" "$@"; }
  # Names of its own, so nothing of whoever else uses that Docker is replaced; every image
  # built is recorded, and removed with its untagged parents (the intermediate images) at the
  # end, so the runs leave nothing behind there.
  base=berth-bench-build-base:latest
  tar -C "$work/rootfs" -c . | docker_ import -c 'CMD ["sh"]' - "$base" >/dev/null
  # (stderr: the classic builder's deprecation notice, every time)
  build_() {
    docker_ build -q --build-arg "BASE=$base" "$@" "$work/context" 2>/dev/null >>"$work/docker-ids"
  }
  build_
  dcold=$(median_ms build_ --no-cache)
  dcached=$(median_ms build_)
  for id in $(sort -u "$work/docker-ids"); do docker_ rmi "$id" >/dev/null; done
  docker_ rmi "$base" >/dev/null
  echo "docker build, cold (--no-cache): median ${dcold} ms of $n"
  echo "docker build, fully cached:      median ${dcached} ms of $n"
else
  echo "docker: not measured (no reference dockerd)"
fi
