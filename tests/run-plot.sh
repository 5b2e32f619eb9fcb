#!/usr/bin/env bash
# `servesim plot` end to end: a small run and a three-point sweep are
# rendered; every figure must exist in both formats and be non-trivial (PNG
# magic and size; SVG with long drawn paths), sweep.csv must hold one row per
# run sorted by offered rate, and a missing gnuplot must be exit 2 with a
# clear message and no output. Needs gnuplot (scripts/deps.sh installs it).
# Usage: run-plot.sh SERVESIM TESTS_DIR
set -u
bin=$1
dir=$2
root=$(cd "$dir/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass=$((pass+1)); else echo "FAIL $what"; fail=$((fail+1)); fi
}
png_ok() { # a PNG of at least 8 kB
  [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
    [ "$(wc -c <"$1")" -gt 8000 ]
}
svg_ok() { # an SVG document with at least $2 line segments drawn
  [ -f "$1" ] && grep -q '<svg' "$1" && grep -q '</svg>' "$1" &&
    [ "$(grep -o 'L[0-9.-]*,[0-9.-]*' "$1" | wc -l)" -ge "$2" ]
}

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "FAIL gnuplot is not installed (bash scripts/deps.sh installs gnuplot-nox)"
  exit 1
fi

# One run: 300 requests of the quickstart study.
(cd "$root" && "$bin" run configs/quickstart.yaml -q -o "$tmp/run" \
  --set workload.num_requests=300) || { echo "FAIL run"; exit 1; }
out=$("$bin" plot "$tmp/run" -o "$tmp/figs" 2>"$tmp/err")
check "plot exit status" [ $? = 0 ]
check "plot prints nothing on stderr" [ ! -s "$tmp/err" ]
check "plot names what it wrote" grep -q "^wrote $tmp/figs/latency-cdf.png" <<<"$out"
for f in latency-cdf timeseries power; do
  check "$f.png" png_ok "$tmp/figs/$f.png"
done
# Each CDF has 500 segments; the time series ~100 rows per line.
check "latency-cdf.svg" svg_ok "$tmp/figs/latency-cdf.svg" 1500
check "timeseries.svg" svg_ok "$tmp/figs/timeseries.svg" 300
check "power.svg" svg_ok "$tmp/figs/power.svg" 20
# Default output directory: RUN_DIR/plots; --quiet prints nothing.
out=$("$bin" plot "$tmp/run" --quiet)
check "default -o" png_ok "$tmp/run/plots/timeseries.png"
check "--quiet" [ -z "$out" ]

# A sweep: three rates in one directory, and the same runs listed.
for r in 30 5 15; do
  (cd "$root" && "$bin" run configs/quickstart.yaml -q -o "$tmp/sweep/rate-$r" \
    --set workload.num_requests=300 --set workload.arrival.rate_per_s=$r) ||
    { echo "FAIL sweep run $r"; exit 1; }
done
check "sweep dir" "$bin" plot "$tmp/sweep" -o "$tmp/sfigs" -q
check "throughput-latency.png" png_ok "$tmp/sfigs/throughput-latency.png"
check "throughput-latency.svg" svg_ok "$tmp/sfigs/throughput-latency.svg" 20
check "sweep.csv rows" [ "$(wc -l <"$tmp/sfigs/sweep.csv")" = 4 ]
check "sweep.csv sorted by rate" \
  [ "$(cut -d, -f1 "$tmp/sfigs/sweep.csv" | tail -3 | tr '\n' ' ')" = "rate-5 rate-15 rate-30 " ]
check "sweep list" "$bin" plot "$tmp/sweep/rate-5" "$tmp/sweep/rate-30" -o "$tmp/s2" -q
check "sweep list csv" [ "$(wc -l <"$tmp/s2/sweep.csv")" = 3 ]

# No gnuplot: exit 2, one line, nothing written.
SERVESIM_GNUPLOT=/nonexistent/gnuplot "$bin" plot "$tmp/run" -o "$tmp/none" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "no gnuplot: exit 2" [ "$rc" = 2 ]
check "no gnuplot: message" grep -q "^servesim: gnuplot not found" "$tmp/err"
check "no gnuplot: one line" [ "$(wc -l <"$tmp/err")" = 1 ]
check "no gnuplot: no output" [ ! -e "$tmp/none" ]
PATH=/nonexistent "$bin" plot "$tmp/run" -o "$tmp/none" >/dev/null 2>"$tmp/err"
check "no gnuplot on PATH: exit 2" [ $? = 2 ]

echo "plot: $pass passed, $fail failed"
[ "$fail" = 0 ]
