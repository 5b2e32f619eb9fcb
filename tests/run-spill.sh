#!/usr/bin/env bash
# Bounded memory does not change results (issue 10): every golden scenario
# (tests/scenarios/*.yaml, with its `# args:`) and the quickstart run once
# as usual and once with the hidden --spill-values 3, which makes every
# exact percentile of the summaries go through sorted runs spilled to disk 3
# values at a time and requests.csv through the same external sort.
# summary.json (but for the host's wall_s), requests.csv and timeseries.csv
# must be byte-identical.
#   run-spill.sh SERVESIM TESTS_DIR
set -u
bin=$1
dir=$2
root=$(cd "$dir/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
for cfg in "$dir"/scenarios/*.yaml "$root/configs/quickstart.yaml"; do
  name=$(basename "$cfg" .yaml)
  args=$(sed -n 's/^# args: //p' "$cfg" | head -1)
  for mode in mem spill; do
    extra=""
    [ $mode = spill ] && extra="--spill-values 3"
    if ! (cd "$root" && eval "\"$bin\" run \"$cfg\" -o \"$tmp/$name.$mode\" --quiet $args $extra") \
      2>"$tmp/err" </dev/null; then
      echo "FAIL $name ($mode): run failed: $(head -1 "$tmp/err")"
      fail=$((fail+1))
      continue 2
    fi
  done
  why=""
  for f in summary.json requests.csv timeseries.csv; do
    if [ $f = summary.json ]; then
      grep -v '"wall_s"' "$tmp/$name.mem/$f" >"$tmp/a"
      grep -v '"wall_s"' "$tmp/$name.spill/$f" >"$tmp/b"
    else
      cp "$tmp/$name.mem/$f" "$tmp/a"
      cp "$tmp/$name.spill/$f" "$tmp/b"
    fi
    cmp -s "$tmp/a" "$tmp/b" || why="$why $f"
  done
  if [ -n "$why" ]; then
    echo "FAIL $name: differs with --spill-values 3:$why"
    fail=$((fail+1))
  else
    pass=$((pass+1))
  fi
done
echo "spill: $pass scenarios identical, $fail failed"
[ "$fail" = 0 ]
