#!/usr/bin/env bash
# Golden scenarios: each tests/scenarios/NAME.yaml is a study run through the
# CLI from the repository root; NAME.expect lists checks on its summary.json,
# one per line:
#   KEY.PATH  OP  VALUE  [TOLERANCE]
# with OP one of == (within TOLERANCE, relative when it ends in %), <=, >=.
# VALUE is a number, or an arithmetic expression without spaces over numbers
# and references: {KEY.PATH} is another key of the same summary, {NAME:KEY.PATH}
# a key of scenario NAME's summary (so one scenario can be checked against
# another, e.g. ttft_s.p50 <= {vllm-v1-load:ttft_s.p50}). Example:
#   throughput.requests_per_s == 1/{e2e_s.mean} 1%
# A scenario's first lines may hold the directive
#   # args: ARGS        extra arguments after the config (e.g. --set a.b=c)
# Every scenario is also run twice to check that requests.csv is
# byte-identical for the same seed. All scenarios run before any check, so a
# reference to another scenario does not depend on the order of the files.
set -u
bin=$1
dir=$2
root=$(cd "$dir/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
get() { # get FILE KEY.PATH -> the scalar (json-glib-free: python is not assumed)
  [ -f "$1" ] && awk -v key="$2" -f "$dir/json-get.awk" "$1"
}

# Pass 1: run every scenario twice.
for cfg in "$dir"/scenarios/*.yaml; do
  name=$(basename "$cfg" .yaml)
  args=$(sed -n 's/^# args: //p' "$cfg" | head -1)
  if ! (cd "$root" && eval "\"$bin\" run \"$cfg\" -o \"$tmp/$name.a\" --quiet $args") \
    2>"$tmp/err" </dev/null; then
    echo "FAIL $name: run failed: $(head -1 "$tmp/err")"; fail=$((fail+1))
    rm -rf "$tmp/$name.a"; continue
  fi
  (cd "$root" && eval "\"$bin\" run \"$cfg\" -o \"$tmp/$name.b\" --quiet $args") \
    2>/dev/null </dev/null
  if [ ! -s "$tmp/$name.a/requests.csv" ] ||
    ! cmp -s "$tmp/$name.a/requests.csv" "$tmp/$name.b/requests.csv"; then
    echo "FAIL $name: requests.csv missing or differs between two runs with the same seed"
    fail=$((fail+1))
  else
    pass=$((pass+1))
  fi
done

# resolve NAME VALUE -> VALUE with every {…} reference replaced by its number;
# prints nothing (and explains on fd 3) when a reference cannot be resolved.
resolve() {
  local self=$1 v=$2 ref scen key got
  while [[ $v =~ \{([^{}]*)\} ]]; do
    ref=${BASH_REMATCH[1]}
    if [[ $ref == *:* ]]; then scen=${ref%%:*}; key=${ref#*:}; else scen=$self; key=$ref; fi
    got=$(get "$tmp/$scen.a/summary.json" "$key")
    if [ -z "$got" ]; then echo "reference {$ref} has no value" >&3; return; fi
    v=${v//"{$ref}"/($got)}
  done
  if [[ ! $v =~ ^[-+*/().0-9eE]+$ ]]; then echo "VALUE '$v' is not arithmetic" >&3; return; fi
  awk "BEGIN { printf \"%.15g\n\", ($v) }"
}

# Pass 2: check the expectations.
for cfg in "$dir"/scenarios/*.yaml; do
  name=$(basename "$cfg" .yaml)
  exp="$dir/scenarios/$name.expect"
  [ -f "$exp" ] || continue
  if [ ! -f "$tmp/$name.a/summary.json" ]; then
    echo "FAIL $name: no summary.json to check"; fail=$((fail+1)); continue
  fi
  # Invariant of every scenario: no peak power below its mean.
  bad=$(awk -f "$dir/peak-mean.awk" "$tmp/$name.a/summary.json")
  if [ -n "$bad" ]; then
    echo "FAIL $name: $(echo "$bad" | head -1)"; fail=$((fail+1))
  else
    pass=$((pass+1))
  fi
  while read -r key op want tol; do
    case "$key" in ''|'#'*) continue ;; esac
    case "$op" in '=='|'<='|'>=') ;; *)
      echo "FAIL $name: bad operator '$op' for $key"; fail=$((fail+1)); continue ;;
    esac
    got=$(get "$tmp/$name.a/summary.json" "$key")
    if [ -z "$got" ]; then echo "FAIL $name: $key missing"; fail=$((fail+1)); continue; fi
    w=$(resolve "$name" "$want" 3>"$tmp/why")
    if [ -z "$w" ]; then
      echo "FAIL $name: $key: $(cat "$tmp/why")"; fail=$((fail+1)); continue
    fi
    ok=$(awk -v g="$got" -v w="$w" -v op="$op" -v t="${tol:-0}" 'BEGIN {
      g += 0; w += 0
      if (op == "<=") { print (g <= w) ? 1 : 0; exit }
      if (op == ">=") { print (g >= w) ? 1 : 0; exit }
      tl = t; if (t ~ /%$/) { sub(/%$/, "", tl); tl = tl / 100 * (w < 0 ? -w : w) }
      d = g - w; if (d < 0) d = -d; print (d <= tl) ? 1 : 0 }')
    if [ "$ok" = 1 ]; then pass=$((pass+1)); else
      shown=$want; [ "$w" != "$want" ] && shown="$want = $w"
      echo "FAIL $name: $key = $got, want $op $shown ${tol:-}"; fail=$((fail+1)); fi
  done <"$exp"
done
echo "scenarios: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
