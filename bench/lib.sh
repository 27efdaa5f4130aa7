# Shared by the benchmarks: source it, set `n` (the number of runs), call `median_ms CMD...`.

# Wall time in milliseconds (one decimal) of one run of "$@" (its output discarded), or
# "failed" when it fails.
ms_of() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null || { echo failed; return; }
  t1=$(date +%s%N)
  awk -v us=$(( (t1 - t0) / 1000 )) 'BEGIN { printf "%.1f\n", us / 1000 }'
}

# The median of the numbers on stdin, one per line; "failed" if any line says so.
median() {
  sort -n | awk '/failed/ {failed = 1} {a[NR]=$1}
    END {if (failed) {print "failed"; exit}
         m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m}'
}

# Median wall time in milliseconds of $n runs of "$@" (its output discarded).
median_ms() {
  for _ in $(seq "$n"); do ms_of "$@"; done | median
}
