#!/usr/bin/env bash
# berth side by side with Docker (the reference dockerd, ../shared/tools/reference-dockerd),
# Podman and a raw OCI runtime (crun, else runc) on this machine: the same work with each,
# medians of N runs, and the ratios measured in this one run. A peer that is not installed
# is skipped, saying so; `--install` apt-gets docker.io, podman and crun first. As root:
#
#   bench/compare.sh [--install] [N]     (default N=10; builds release binaries first)
#
# Figures: run --rm (default network and --network none), exec in a running container,
# stop -t 1 of a container that ignores SIGTERM, 50 parallel run -d, ps -a with 200
# containers, images with 100 tags, daemon memory idle and per running container (PSS).
# Pulls and builds have their own scripts (pull-throughput.sh, build-cache.sh); `--all`
# runs them too.
set -euo pipefail
cd "$(dirname "$0")/.."
n=10 install=false all=false
for arg in "$@"; do
  case $arg in
  --install) install=true ;;
  --all) all=true ;;
  *) n=$arg ;;
  esac
done
if $install; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io podman crun >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/berth/target}"
cargo build --release --locked -q -p berthd -p berth-shim -p berth-cli
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /tmp/berth-compare-XXXXXX)
bridge="bcmp$$"
cgroup_parent="berth-bench-compare-$$"
reference=../shared/tools/reference-dockerd
pid=
cleanup() {
  for e in "${engines[@]:-}"; do [ -n "$e" ] && remove_all "$e" 2>/dev/null; done
  [ -n "${docker_image:-}" ] && E docker rmi "$docker_image" >/dev/null 2>&1
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "${podman_netns:-}" ]; then kill "$podman_netns" 2>/dev/null || true; fi
  # Podman's network state, when this run made it.
  [ -z "${podman_run_state:-}" ] || rm -rf "$podman_run_state"
  [ -z "${podman_cgroup:-}" ] ||
    find /sys/fs/cgroup -depth -type d -path "*/$podman_cgroup*" -exec rmdir {} + 2>/dev/null || true
  awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
  nft delete table inet "berth_$bridge" 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path "*/$cgroup_parent*" -exec rmdir {} + 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh

# A busybox root filesystem from Debian's busybox-static, every applet linked.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
echo 'root:x:0:' >"$work/rootfs/etc/group"
rootfs_tar() { tar -C "$work/rootfs" -c .; }

# The engines: E <engine> ARGS... runs that engine's CLI; image_of <engine> names its busybox.
engines=()
E() { local e=$1; shift; "engine_$e" "$@"; }

engine_berth() { "$bin/berth" -H "unix://$work/berth.sock" "$@"; }
printf '{"bridge": "%s", "bip": "10.233.0.1/22", "cgroup-parent": "%s"}\n' \
  "$bridge" "$cgroup_parent" >"$work/daemon.json"
"$bin/berthd" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$work/berth.sock" \
  --config-file "$work/daemon.json" >"$work/berthd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do engine_berth version >/dev/null 2>&1 && break; sleep 0.05; done
rootfs_tar | engine_berth import -c 'CMD ["sh"]' - busybox:latest >/dev/null
engines+=(berth)

if [ -f "$reference" ] && command -v dockerd >/dev/null && command -v docker >/dev/null; then
  docker_host=$(bash "$reference" start | sed -n 's/^DOCKER_HOST=//p')
  engine_docker() { docker -H "$docker_host" "$@"; }
  docker_image=berth-bench-busybox:latest
  rootfs_tar | engine_docker import -c 'CMD ["sh"]' - "$docker_image" >/dev/null
  engines+=(docker)
else
  echo "docker: skipped (needs docker.io and $reference)"
fi

if command -v podman >/dev/null; then
  # Storage, state and network settings of its own, in a network namespace of its own (its
  # firewall rules go there and vanish with it); runc, since crun cannot start containers
  # here (it raises rlimits that root cannot raise on this machine); cgroupfs, as no systemd
  # manages this host's cgroups.
  unshare --net sleep infinity &
  podman_netns=$!
  [ -d /run/containers/networks ] || podman_run_state=/run/containers/networks
  [ -d /sys/fs/cgroup/memory/libpod_parent ] || podman_cgroup=libpod_parent
  engine_podman() {
    nsenter --net="/proc/$podman_netns/ns/net" podman --root "$work/podman/root" \
      --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" \
      --network-config-dir "$work/podman/net" --runtime runc --cgroup-manager cgroupfs \
      --events-backend none "$@"
  }
  nsenter --net="/proc/$podman_netns/ns/net" ip link set lo up
  # Podman gives containers the host's highest rlimits, which root cannot set here (see the
  # README's notes on this machine): ordinary ones instead.
  mkdir -p "$work/podman"
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' \
    >"$work/podman/containers.conf"
  export CONTAINERS_CONF="$work/podman/containers.conf"
  if rootfs_tar | engine_podman import -c 'CMD ["sh"]' - localhost/busybox:latest >/dev/null 2>&1; then
    engines+=(podman)
  else
    echo "podman: skipped (it could not import an image; see podman's output)"
  fi
else
  echo "podman: skipped (not installed; --install adds it)"
fi

image_of() {
  case $1 in
  berth) echo busybox:latest ;;
  docker) echo "$docker_image" ;;
  podman) echo localhost/busybox:latest ;;
  esac
}

remove_all() { # the containers this script made with engine $1
  local ids; ids=$(E "$1" ps -aq --filter label=berth-bench)
  [ -z "$ids" ] || E "$1" rm -f $ids >/dev/null 2>&1 || true
}

# The figures: each prints one number for engine $1 (milliseconds, or MiB for memory).
fig_run() {
  local img; img=$(image_of "$1")
  E "$1" run --rm "$img" true >/dev/null
  median_ms E "$1" run --rm "$img" true
}
fig_run_none() {
  local img; img=$(image_of "$1")
  median_ms E "$1" run --rm --network none "$img" true
}
fig_exec() {
  local ms
  E "$1" run -d --label berth-bench --name berth-bench-exec "$(image_of "$1")" sleep 1000 >/dev/null
  ms=$(median_ms E "$1" exec berth-bench-exec true)
  remove_all "$1"
  echo "$ms"
}
fig_stop() {
  local img id; img=$(image_of "$1")
  for _ in $(seq "$n"); do
    id=$(E "$1" run -d --label berth-bench "$img" sh -c 'trap "" TERM; sleep 1000')
    ms_of E "$1" stop -t 1 "$id"
    remove_all "$1"
  done | median
}
fig_parallel() {
  local img t0 t1; img=$(image_of "$1")
  t0=$(date +%s%N)
  for _ in $(seq 50); do E "$1" run -d --label berth-bench "$img" sleep 1000 >/dev/null & done
  wait
  t1=$(date +%s%N)
  local running; running=$(E "$1" ps -q --filter label=berth-bench | wc -l)
  remove_all "$1"
  [ "$running" = 50 ] || { echo failed; return; }
  awk -v us=$(( (t1 - t0) / 1000 )) 'BEGIN { printf "%.1f\n", us / 1000 }'
}
fig_ps() {
  local img ms; img=$(image_of "$1")
  for _ in $(seq 200); do E "$1" create --label berth-bench "$img" true >/dev/null; done
  ms=$(median_ms E "$1" ps -a)
  remove_all "$1"
  echo "$ms"
}
fig_images() {
  local img ms; img=$(image_of "$1")
  for i in $(seq 100); do E "$1" tag "$img" "berth-bench-image:$i"; done
  ms=$(median_ms E "$1" images)
  E "$1" rmi $(seq 100 | sed 's/^/berth-bench-image:/') >/dev/null
  echo "$ms"
}

# Memory, in KiB, of the processes in $@ (pids): their proportional set size, which counts
# a page shared by N processes (a binary's code, the C library) as 1/N in each, so that
# per-container figures are what one more container costs, not the same shared pages again.
pss_kib() {
  local total=0 p kib
  for p in "$@"; do
    kib=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}
# The daemon's processes, and the per-container ones of the running containers.
daemon_pids() {
  case $1 in
  berth) echo "$pid" ;;
  docker)
    local d; d=$(cat /tmp/refdocker.pid)
    echo "$d" $(pgrep -P "$d" -x containerd || true) ;;
  podman) ;; # no daemon
  esac
}
container_pids() {
  local id
  for id in $(E "$1" ps -q --no-trunc --filter label=berth-bench); do
    case $1 in
    berth) pgrep -f "berth-shim $work/exec/containers/$id" || true ;;
    docker) pgrep -f "containerd-shim-runc-v2 .*-id $id" || true ;;
    podman) pgrep -f "conmon .*-c $id" || true ;;
    esac
  done
}
fig_idle_rss() {
  awk -v k="$(pss_kib $(daemon_pids "$1"))" 'BEGIN { printf "%.1f\n", k / 1024 }'
}
fig_container_rss() {
  local before after img; img=$(image_of "$1")
  before=$(pss_kib $(daemon_pids "$1"))
  for _ in $(seq 10); do E "$1" run -d --label berth-bench "$img" sleep 1000 >/dev/null; done
  sleep 1
  after=$(( $(pss_kib $(daemon_pids "$1")) + $(pss_kib $(container_pids "$1")) ))
  remove_all "$1"
  awk -v d=$((after - before)) 'BEGIN { printf "%.1f\n", d / 10 / 1024 }'
}

# The physical floor: `crun run` of a bundle, no engine at all (runc's when crun cannot run
# it: crun 1.8 gives up on this machine's hybrid cgroups).
bundle="$work/bundle"
raw_run() { "$raw_runtime" run -b "$bundle" berth-bench-raw 2>/dev/null; }
fig_raw() {
  mkdir -p "$bundle"
  (cd "$bundle" && rm -f config.json && runc spec)
  python3 - "$bundle/config.json" "$work/rootfs" <<'PY'
import json, sys
path, rootfs = sys.argv[1:]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["true"]
spec["root"] = {"path": rootfs, "readonly": False}
json.dump(spec, open(path, "w"))
PY
  for raw_runtime in crun runc; do
    command -v "$raw_runtime" >/dev/null && raw_run && break
  done
  echo "$raw_runtime: $(median_ms raw_run)"
}

figures=(
  "fig_run|run --rm busybox true|ms"
  "fig_run_none|run --rm --network none busybox true|ms"
  "fig_exec|exec true (running container)|ms"
  "fig_stop|stop -t 1 (SIGTERM ignored)|ms"
  "fig_parallel|50 x run -d in parallel|ms"
  "fig_ps|ps -a with 200 containers|ms"
  "fig_images|images with 100 tags|ms"
  "fig_idle_rss|daemon memory (PSS), idle|MiB"
  "fig_container_rss|memory (PSS) per running container|MiB"
)
# Idle memory first, before anything ran.
figures=("${figures[7]}" "${figures[@]:0:7}" "${figures[8]}")

printf '%-38s' "figure (median of $n)"
for e in "${engines[@]}"; do printf '%12s' "$e"; done
for e in "${engines[@]:1}"; do printf '%14s' "$e/berth"; done
echo
for entry in "${figures[@]}"; do
  IFS='|' read -r fn title unit <<<"$entry"
  printf '%-38s' "$title"
  values=()
  for e in "${engines[@]}"; do
    if [ "$e" = podman ] && [ "$fn" = fig_idle_rss ]; then
      v="-" # no daemon
    else
      v=$("$fn" "$e" 2>/dev/null | tail -1)
    fi
    values+=("$v")
    if [[ $v =~ ^-?[0-9.]+$ ]]; then printf '%12s' "$v $unit"; else printf '%12s' "${v:-failed}"; fi
  done
  for v in "${values[@]:1}"; do
    awk -v b="${values[0]}" -v v="$v" 'BEGIN {
      if (b ~ /^[0-9.]+$/ && v ~ /^[0-9.]+$/ && b > 0) printf "%13.1fx", v / b; else printf "%14s", "-" }'
  done
  echo
done
if command -v runc >/dev/null; then
  IFS=: read -r runtime ms <<<"$(fig_raw)"
  printf '%-38s%12s\n' "$runtime run of a bundle (true)" "$ms ms"
else
  echo "raw runtime: skipped (runc, for its spec, is not installed)"
fi
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"

if $all; then
  bench/build-cache.sh "$n"
  bench/pull-throughput.sh 200 3
fi
