#!/usr/bin/env bash
# SIGINT and SIGTERM during `servesim plan` (issue 10): a search of 56 plans
# (tests/data/search/signals.yaml, --no-prune) is signalled once its
# results log holds three results. It must stop within a few seconds with
# exit status 130 (INT) or 143 (TERM) and "servesim: interrupted" alone on
# stderr, print nothing on stdout, leave plans.log as the only file (no
# plans.csv, pareto.csv, best.yaml or temporary file) and end it on a whole
# line; the same command then resumes, takes exactly those results from the
# log, and writes plans.csv, pareto.csv and best.yaml byte-identical to an
# uninterrupted search's. INT runs on 2 threads, TERM on 1; with a servesim
# built with MPI and mpirun at hand, INT also goes to `mpirun -np 3 ...
# --mpi` and at once to its ranks (Open MPI's mpirun passes a signal on
# only after about a second, when a small search may be over; its own exit
# status is mpirun's business).
#   run-search-signals.sh SERVESIM TESTS_DIR
set -u
bin=$1
dir=$2
study=$dir/data/search/signals.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
set -m # job control: background runs get the default SIGINT disposition

if ! "$bin" plan "$study" -o "$tmp/full" --jobs 2 --no-prune --quiet 2>"$tmp/stderr"; then
  echo "FAIL: the uninterrupted search failed: $(head -1 "$tmp/stderr")"
  exit 1
fi
total=$(grep -vc '^#' "$tmp/full/plans.log")

results() { # results DIR: result lines in DIR/plans.log (0 without one)
  local n
  n=$(grep -vc '^#' "$1/plans.log" 2>/dev/null)
  echo "${n:-0}"
}

interrupt() { # interrupt SIGNAL WANT_STATUS JOBS|mpi
  local sig=$1 want=$2 jobs=$3 out="$tmp/$1-$3" pid rc why="" before files
  local -a cmd=("$bin" plan "$study" -o "$out" --no-prune --jobs "$jobs")
  [ "$jobs" = mpi ] && cmd=(mpirun --allow-run-as-root --oversubscribe -np 3 "$bin" plan "$study"
    -o "$out" --no-prune --mpi)
  local first=3
  [ "$jobs" = mpi ] && first=1
  "${cmd[@]}" --quiet >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  for _ in $(seq 1 2400); do # up to 2 minutes for the first results
    [ "$(results "$out")" -ge "$first" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ "$jobs" = mpi ]; then
    kill -s "$sig" "$pid" $(pgrep -P "$pid")
  else
    kill -s "$sig" "$pid"
  fi
  for _ in $(seq 1 100); do
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
  before=$(results "$out")
  files=$(cd "$out" && ls -A | tr '\n' ' ')
  if [ "$jobs" = mpi ]; then
    [ "$rc" != 0 ] || why="exit 0"
    [ -z "$why" ] && ! grep -qx "servesim: interrupted" "$tmp/stderr" &&
      why="stderr lacks 'servesim: interrupted': '$(head -c 200 "$tmp/stderr")'"
  else
    [ "$rc" = "$want" ] || why="exit $rc, want $want"
    [ -z "$why" ] && [ "$(cat "$tmp/stderr")" != "servesim: interrupted" ] &&
      why="stderr is '$(head -c 200 "$tmp/stderr")'"
  fi
  [ -z "$why" ] && [ -s "$tmp/stdout" ] && why="printed on stdout"
  [ -z "$why" ] && [ "$files" != "plans.log " ] && why="left '$files' in -o, want plans.log alone"
  [ -z "$why" ] && [ "$(tail -c 1 "$out/plans.log" | od -An -c | tr -d ' ')" != '\n' ] &&
    why="plans.log does not end on a whole line"
  [ -z "$why" ] && { [ "$before" -lt "$first" ] || [ "$before" -ge "$total" ]; } &&
    why="$before of $total results logged: the signal did not land mid-search"
  if [ -n "$why" ]; then
    echo "FAIL $sig: $why"
    fail=$((fail+1))
    return
  fi
  # Resume: the logged results are taken as they are, the rest simulated.
  if ! "${cmd[@]}" >"$tmp/resume" 2>"$tmp/stderr"; then
    echo "FAIL $sig: the resumed search failed: $(head -1 "$tmp/stderr")"
    fail=$((fail+1))
    return
  fi
  if ! grep -q " $total simulated ($before from earlier runs)" "$tmp/resume"; then
    echo "FAIL $sig: the resumed search did not take the $before logged results:"
    grep '^plans ' "$tmp/resume"
    fail=$((fail+1))
    return
  fi
  for f in plans.csv pareto.csv best.yaml; do
    if ! cmp -s "$tmp/full/$f" "$out/$f"; then
      echo "FAIL $sig: after resuming, $f differs from the uninterrupted search's"
      fail=$((fail+1))
      return
    fi
  done
  echo "ok $sig ($jobs): exit $rc after $before of $total plans, plans.log alone;" \
    "resumed to the same files"
}

interrupt INT 130 2
interrupt TERM 143 1
if command -v mpirun >/dev/null &&
  ! "$bin" plan "$tmp/none.yaml" --mpi 2>&1 | grep -q 'built without MPI'; then
  interrupt INT 130 mpi
fi
[ "$fail" = 0 ]
