#!/usr/bin/env bash
# Memory check of the CLI under valgrind (memcheck): a full `run` of the
# quickstart study (cut to 300 requests so it takes seconds, not minutes), one
# `predict` and one small plan search (`plan`). Fails (exit 1) on any memory error or on a definite leak;
# "possibly" and "still reachable" blocks (GLib's type system and caches) are
# reported but not counted. Skips with exit 0 when valgrind is not installed.
# Usage: tests/valgrind.sh SERVESIM_BINARY [REPO_ROOT]
set -u
bin=$1
if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind: not installed, skipping the memory check"
  exit 0
fi
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME ARGS... : run servesim ARGS under memcheck
  local name=$1
  shift
  # GLib's slice allocator is a no-op in recent GLib but is still told to use
  # malloc so older versions do not hide leaks; G_DEBUG=gc-friendly clears
  # freed memory so stale pointers are not mistaken for reachable ones.
  (cd "$root" && G_SLICE=always-malloc G_DEBUG=gc-friendly \
    valgrind --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite \
    --num-callers=30 --log-file="$tmp/$name.log" "$bin" "$@" >"$tmp/$name.out" 2>&1)
  local rc=$?
  if [ "$rc" = 0 ]; then
    echo "valgrind $name: clean ($(grep -m1 'ERROR SUMMARY' "$tmp/$name.log" | sed 's/^==[0-9]*== //'))"
  else
    echo "FAIL valgrind $name: exit $rc"
    [ "$rc" != 3 ] && sed 's/^/  output: /' "$tmp/$name.out" | head -5
    # The findings: every error record and the leak summary.
    sed -n -e '/^==[0-9]*== \(Invalid\|Conditional\|Use of uninit\|Mismatched\|Source and destination\|Syscall param\|Argument\|.*are definitely lost\)/,/^==[0-9]*== $/p' \
      -e '/LEAK SUMMARY/,/ERROR SUMMARY/p' "$tmp/$name.log" |
      sed 's/^==[0-9]*== /  /' | head -120
    fail=1
  fi
}
check run run configs/quickstart.yaml --set workload.num_requests=300 -o "$tmp/run" --quiet
check predict predict --model llama-3-8b --hw h100-sxm --batch prefill=512x2,decode=64@2048 --json
# One small plan search (8 simulations of 300 requests) on two worker threads.
check plan plan tests/data/search/small.yaml -o "$tmp/plan" --jobs 2 --quiet
exit $fail
