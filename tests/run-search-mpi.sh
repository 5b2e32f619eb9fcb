#!/usr/bin/env bash
# The MPI back end (issue 7): `mpirun -np 3 servesim plan --mpi` (rank 0
# hands out plans, two workers evaluate) writes the same files as the local
# pool; so does capacity. Needs a servesim built with -DSERVESIM_WITH_MPI=ON.
#   bash tests/run-search-mpi.sh BUILD/servesim tests
set -euo pipefail
bin=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi=(mpirun --allow-run-as-root --oversubscribe -np 3)
for verb in plan capacity; do
  study=$dir/data/search/small.yaml
  [ $verb = capacity ] && study=$dir/data/search/capacity.yaml
  "$bin" $verb "$study" -o "$tmp/local-$verb" --jobs 2 --quiet
  "${mpi[@]}" "$bin" $verb "$study" -o "$tmp/mpi-$verb" --mpi --quiet
  for f in plans.csv pareto.csv best.yaml; do
    cmp "$tmp/local-$verb/$f" "$tmp/mpi-$verb/$f" ||
      { echo "FAIL: $verb $f differs between MPI and the local pool"; exit 1; }
  done
done
echo "search mpi: ok"
