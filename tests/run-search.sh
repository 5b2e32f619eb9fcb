#!/usr/bin/env bash
# The plan search through the CLI (issue 7): the same files with 1 and 2
# threads, after a resume, and through the Slurm path (--emit slurm, the job
# script run once per array index as Slurm would, then collect); best.yaml
# runs on its own and meets its SLO; collect refuses when a shard is
# missing; capacity writes its fleet.
#   bash tests/run-search.sh BUILD/servesim tests
set -euo pipefail
bin=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
study=$dir/data/search/small.yaml
same() { # same DIR_A DIR_B: plans.csv, pareto.csv and best.yaml byte for byte
  for f in plans.csv pareto.csv best.yaml; do
    cmp "$1/$f" "$2/$f" || { echo "FAIL: $1/$f and $2/$f differ"; exit 1; }
  done
}

"$bin" plan "$study" -o "$tmp/j1" --jobs 1 --quiet
"$bin" plan "$study" -o "$tmp/j2" --jobs 2 >"$tmp/out"
same "$tmp/j1" "$tmp/j2"
grep -q '^best ' "$tmp/out" || { echo "FAIL: no best line"; cat "$tmp/out"; exit 1; }
"$bin" run "$tmp/j1/best.yaml" >"$tmp/run"
grep -q '^SLO .*: met' "$tmp/run" || { echo "FAIL: best.yaml misses its SLO"; cat "$tmp/run"; exit 1; }

# Resume: a second run takes every result from the log and simulates none.
"$bin" plan "$study" -o "$tmp/j1" --jobs 2 >"$tmp/again"
grep -Eq ' ([0-9]+) simulated \(\1 from earlier runs\)' "$tmp/again" ||
  { echo "FAIL: the rerun did not resume"; cat "$tmp/again"; exit 1; }
same "$tmp/j1" "$tmp/j2"

# Slurm: emit, run each array task's script, collect.
"$bin" plan "$study" --emit slurm "$tmp/slurm" --shards 3 --quiet
script=$tmp/slurm/servesim.sbatch
[ -x "$script" ] && grep -q -- '^#SBATCH --array=0-2$' "$script" ||
  { echo "FAIL: bad job script"; cat "$script"; exit 1; }
cp -r "$tmp/slurm" "$tmp/partial"
for i in 0 1 2; do SLURM_ARRAY_TASK_ID=$i bash "$script"; done
"$bin" collect "$tmp/slurm" --quiet
same "$tmp/j1" "$tmp/slurm"

# collect with shards 1 and 2 not run: exit 2, one line saying how many.
# (the copied script names the original directory: run shard 0 by hand)
"$bin" plan "$study" -o "$tmp/partial" --shard "$tmp/partial/shards/shard-0000.txt" --quiet
set +e
"$bin" collect "$tmp/partial" >"$tmp/cout" 2>"$tmp/cerr"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'plans have no result in the logs' "$tmp/cerr" ||
  { echo "FAIL: collect with missing shards: exit $rc"; cat "$tmp/cerr"; exit 1; }

# Capacity: the fleet's best.yaml meets the SLO at the target rate.
"$bin" capacity "$dir/data/search/capacity.yaml" -o "$tmp/cap" --quiet
grep -q 'rate_per_s: 30' "$tmp/cap/best.yaml"
"$bin" run "$tmp/cap/best.yaml" | grep -q '^SLO .*: met' ||
  { echo "FAIL: the capacity fleet misses its SLO"; exit 1; }
# The Pareto plot of a search directory (when gnuplot is there).
if command -v gnuplot >/dev/null; then
  "$bin" plot "$tmp/j1" --quiet
  [ -s "$tmp/j1/plots/pareto.png" ] && [ -s "$tmp/j1/plots/pareto.svg" ] ||
    { echo "FAIL: no pareto plot"; exit 1; }
fi
echo "search cli: ok"
