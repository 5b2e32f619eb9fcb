#!/usr/bin/env bash
# Fuzz one harness for a bounded time (the CTest entries of a
# -DSERVESIM_FUZZ=ON build, label "fuzz"):
#   run-fuzz.sh EXE FUZZ_DIR NAME SECONDS
# It starts from a scratch copy of corpus/NAME (the repository's corpus is
# never written) and fails when libFuzzer finds a crash, a leak or a hang
# (an input running over 10 s); the input that did it is copied to
# $SERVESIM_FUZZ_ARTIFACTS (default: the current folder) and printed in
# base64, so that it can become tests/fuzz/regressions/NAME/<what>.
set -u
exe=$1
dir=$2
name=$3
secs=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp "$dir/corpus/$name"/* "$work/corpus/" 2>/dev/null || true
[ -d "$dir/regressions/$name" ] && cp "$dir/regressions/$name"/* "$work/corpus/" 2>/dev/null
dict=()
[ -f "$dir/dict/$name.dict" ] && dict=(-dict="$dir/dict/$name.dict")
# rss_limit_mb: the loaders must not blow up on small inputs.
"$exe" "$work/corpus" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -max_len=8192 -print_final_stats=1 -artifact_prefix="$work/" >"$work/log" 2>&1
rc=$?
grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" | sed "s/^/$name: /"
if [ $rc != 0 ]; then
  echo "FAIL $name (libFuzzer exit $rc):"
  grep -E 'ERROR|SUMMARY|runtime error|fuzz:' "$work/log" | head -20
  keep=${SERVESIM_FUZZ_ARTIFACTS:-.}
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -f "$a" ] || continue
    cp "$a" "$keep/$name-$(basename "$a")"
    echo "input ($keep/$name-$(basename "$a")), base64:"
    base64 -w 76 "$a" | head -40
  done
  exit 1
fi
echo "$name: no crash in ${secs} s"
