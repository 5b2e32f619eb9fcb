#!/usr/bin/env bash
# SIGINT and SIGTERM during `servesim run`: a long run (bench/synthetic.yaml
# grown to 10 M requests, about a minute) is signalled once it simulates;
# it must stop within a few seconds with exit status 130 (INT) or 143
# (TERM), print exactly "servesim: interrupted" on stderr, and leave no
# output: no file in -o DIR, no --trace-events file, no temporary file.
# A second, short run must still write complete files.
#   run-signals.sh SERVESIM SOURCE_DIR
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
set -m # job control: background runs get the default SIGINT disposition

interrupt() { # interrupt SIGNAL WANT_STATUS
  local sig=$1 want=$2 out="$tmp/out-$1" pid rc waited
  "$bin" run "$src/bench/synthetic.yaml" -o "$out" --quiet \
    --set workload.num_requests=10000000 --trace-events "$tmp/timeline-$sig.json" \
    --trace-events-limit 0 >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  sleep 1.5
  kill -s "$sig" "$pid"
  # It must stop soon: the loop polls the flag every 1,024 events.
  for waited in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL $sig: still running 10 s after the signal"
    kill -9 "$pid"
    fail=$((fail+1))
    return
  fi
  wait "$pid"
  rc=$?
  local why=""
  [ "$rc" = "$want" ] || why="exit $rc, want $want"
  [ -z "$why" ] && [ "$(cat "$tmp/stderr")" != "servesim: interrupted" ] &&
    why="stderr is '$(head -c 200 "$tmp/stderr")'"
  [ -z "$why" ] && [ -s "$tmp/stdout" ] && why="printed on stdout"
  [ -z "$why" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && why="left files in -o: $(ls -A "$out")"
  [ -z "$why" ] && ls "$tmp"/timeline-"$sig"* >/dev/null 2>&1 &&
    why="left a timeline: $(ls "$tmp"/timeline-"$sig"*)"
  if [ -n "$why" ]; then
    echo "FAIL $sig: $why"
    fail=$((fail+1))
  else
    echo "ok $sig: exit $rc, no output left"
  fi
}

interrupt INT 130
interrupt TERM 143

# A run that is not interrupted writes every file, and no temporary one.
"$bin" run "$src/bench/synthetic.yaml" -o "$tmp/full" --quiet --set workload.num_requests=200 \
  >/dev/null 2>"$tmp/stderr"
rc=$?
files=$(cd "$tmp/full" 2>/dev/null && ls -A | tr '\n' ' ')
if [ "$rc" != 0 ] || [ "$files" != "requests.csv summary.json timeseries.csv " ]; then
  echo "FAIL full run: exit $rc, files '$files'"; cat "$tmp/stderr"
  fail=$((fail+1))
else
  echo "ok full run: $files"
fi
[ "$fail" = 0 ]
