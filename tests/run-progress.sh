#!/usr/bin/env bash
# The progress bar of `servesim run` and the --trace-events option, end to
# end. The bar must never appear when stderr is not a terminal, nor with
# --quiet; on a terminal (a pseudo-terminal from script(1)) a run must show it
# with its rate and ETA and erase it before the summary is printed.
# Usage: run-progress.sh SERVESIM TESTS_DIR
set -u
bin=$1
dir=$2
root=$(cd "$dir/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() {
  local what=$1
  shift
  if "$@"; then pass=$((pass+1)); else echo "FAIL $what"; fail=$((fail+1)); fi
}
# 1.4 M events: the sim reports progress every 65,536 events, and with no
# delay before the first draw (it is half a second by default) the bar shows
# at least once however fast the build is.
export SERVESIM_PROGRESS_DELAY_S=0
long=(run "$root/bench/azure-100k.yaml" --set workload.num_requests=60000)

# Not a terminal: stderr stays empty.
(cd "$root" && "$bin" "${long[@]}" >"$tmp/out" 2>"$tmp/err")
check "run succeeds" [ $? = 0 ]
check "no bar when stderr is a file" [ ! -s "$tmp/err" ]
check "summary on stdout" grep -q '^servesim run:' "$tmp/out"

if command -v script >/dev/null 2>&1; then
  cmd="cd '$root' && '$bin' ${long[*]}"
  script -qfec "$cmd" /dev/null >"$tmp/tty" 2>&1 </dev/null
  check "bar on a terminal" grep -q 'ETA' "$tmp/tty"
  check "bar shows the rate" grep -q 'iterations/s' "$tmp/tty"
  check "bar shows the total" grep -q '/60.0 k requests' "$tmp/tty"
  # The bar is erased with a carriage return before the summary is printed.
  check "bar erased before the summary" grep -q $'\r *\rservesim run:' "$tmp/tty"
  script -qfec "$cmd --quiet" /dev/null >"$tmp/tty" 2>&1 </dev/null
  check "--quiet on a terminal prints nothing" [ ! -s "$tmp/tty" ]
else
  echo "note: script(1) not found; the terminal half of this test is skipped"
fi

# --trace-events: the file is written, named, and says whether it was cut.
(cd "$root" && "$bin" run configs/quickstart.yaml --set workload.num_requests=50 \
  --trace-events "$tmp/t.json" >"$tmp/out" 2>"$tmp/err")
check "trace run" [ $? = 0 ]
check "trace named" grep -q "^wrote $tmp/t.json: [0-9]* trace events$" "$tmp/out"
check "trace complete" grep -q '"truncated":false}}$' "$tmp/t.json"
check "no temporary file left" [ ! -e "$tmp/t.json.tmp" ]
(cd "$root" && "$bin" run configs/quickstart.yaml --set workload.num_requests=50 \
  --trace-events "$tmp/t5.json" --trace-events-limit 5 >"$tmp/out" 2>"$tmp/err")
check "limited trace says so" grep -q 'the first 5 requests up to' "$tmp/out"
check "limited trace marked" grep -q '"requests_traced":5,"truncated":true}}$' "$tmp/t5.json"
check "limited trace has 5 requests" [ "$(grep -c '"name":"request [0-9]*","ph":"b"' "$tmp/t5.json")" = 5 ]

echo "progress: $pass passed, $fail failed"
[ "$fail" = 0 ]
