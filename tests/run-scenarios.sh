#!/usr/bin/env bash
# Golden scenarios: each tests/scenarios/NAME.yaml is a study run through the
# CLI; NAME.expect lists checks on its summary.json, one per line:
#   KEY.PATH  OP  VALUE  [TOLERANCE]
# with OP one of == (within TOLERANCE, relative when it ends in %), <=, >=.
# Every scenario is also run twice to check that requests.csv is
# byte-identical for the same seed.
set -u
bin=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
get() { # get FILE KEY.PATH -> number (json-glib-free: python is not assumed)
  awk -v key="$2" -f "$dir/json-get.awk" "$1"
}
for cfg in "$dir"/scenarios/*.yaml; do
  name=$(basename "$cfg" .yaml)
  exp="$dir/scenarios/$name.expect"
  if ! (cd "$dir/.." && "$bin" run "$cfg" -o "$tmp/$name.a" --quiet) 2>"$tmp/err"; then
    echo "FAIL $name: run failed: $(head -1 "$tmp/err")"; fail=$((fail+1)); continue
  fi
  (cd "$dir/.." && "$bin" run "$cfg" -o "$tmp/$name.b" --quiet) 2>/dev/null
  if ! cmp -s "$tmp/$name.a/requests.csv" "$tmp/$name.b/requests.csv"; then
    echo "FAIL $name: requests.csv differs between two runs with the same seed"; fail=$((fail+1))
  else
    pass=$((pass+1))
  fi
  [ -f "$exp" ] || continue
  while read -r key op want tol; do
    case "$key" in ''|'#'*) continue ;; esac
    got=$(get "$tmp/$name.a/summary.json" "$key")
    if [ -z "$got" ]; then echo "FAIL $name: $key missing"; fail=$((fail+1)); continue; fi
    ok=$(awk -v g="$got" -v w="$want" -v op="$op" -v t="${tol:-0}" 'BEGIN {
      if (op == "<=") { print (g <= w) ? 1 : 0; exit }
      if (op == ">=") { print (g >= w) ? 1 : 0; exit }
      tl = t; if (t ~ /%$/) { sub(/%$/, "", tl); tl = tl / 100 * (w < 0 ? -w : w) }
      d = g - w; if (d < 0) d = -d; print (d <= tl) ? 1 : 0 }')
    if [ "$ok" = 1 ]; then pass=$((pass+1)); else
      echo "FAIL $name: $key = $got, want $op $want ${tol:-}"; fail=$((fail+1)); fi
  done <"$exp"
done
echo "scenarios: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
