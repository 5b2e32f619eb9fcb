#!/usr/bin/env bash
# Bad-input fixtures: every tests/fixtures/**/*.yaml is a study that must fail.
# Its first lines hold directives:
#   # expect: TEXT      the one-line error must contain TEXT (required)
#   # args: ARGS        extra arguments after the config (e.g. --set a.b=c)
#   # command: VERB     servesim verb to run (default: run); any verb other
#                       than run gets only ARGS (no config file, no -o)
#   # raw               run too gets only ARGS (e.g. a missing config file)
# Each must exit 2, print exactly one stderr line starting "servesim: ", print
# nothing on stdout and create no output files.
set -u
bin=$1
dir=$2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while IFS= read -r f; do
  expect=$(sed -n 's/^# expect: //p' "$f" | head -1)
  args=$(sed -n 's/^# args: //p' "$f" | head -1)
  verb=$(sed -n 's/^# command: //p' "$f" | head -1)
  verb=${verb:-run}
  [ -n "$expect" ] || { echo "FAIL $f: no '# expect:' line"; fail=$((fail+1)); continue; }
  out="$tmp/out"
  rm -rf "$out"
  if [ "$verb" = run ] && ! grep -q '^# raw$' "$f"; then
    (cd "$(dirname "$f")" && eval "\"$bin\" run \"$(basename "$f")\" -o \"$out\" $args") \
      >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  else
    (cd "$(dirname "$f")" && eval "\"$bin\" $verb $args") >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  fi
  rc=$?
  lines=$(wc -l <"$tmp/stderr")
  why=""
  [ "$rc" = 2 ] || why="exit $rc, want 2"
  [ -z "$why" ] && [ "$lines" != 1 ] && why="$lines stderr lines, want 1"
  [ -z "$why" ] && ! grep -q '^servesim: ' "$tmp/stderr" && why="no 'servesim: ' prefix"
  [ -z "$why" ] && ! grep -qF -- "$expect" "$tmp/stderr" && why="error lacks '$expect'"
  [ -z "$why" ] && [ -s "$tmp/stdout" ] && why="printed on stdout"
  [ -z "$why" ] && [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && why="left output files"
  if [ -z "$why" ]; then
    pass=$((pass+1))
  else
    echo "FAIL $f: $why"; sed 's/^/  stderr: /' "$tmp/stderr" | head -3
    fail=$((fail+1))
  fi
done < <(find "$dir/fixtures" -name '*.yaml' | sort)
echo "fixtures: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
