#!/usr/bin/env bash
# The decode cohort (src/serve/cohort.c) and the predictor memo's per-part
# caches (src/perf/predictor.c) are exact shortcuts: every study must give
# byte-identical requests.csv, timeseries.csv and summary.json (less its
# wall time) with them and without them (SERVESIM_NO_FASTPATH=1, the plain
# per-request path). Runs each golden scenario, then studies chosen to
# drive the cohort's fall-backs: KV preemption by recomputation and by swap
# (blocks short at the decode pass, and in the prefill pass after decodes
# were placed), small and large blocks, no chunked prefill, a disaggregated
# cluster, short copies of the speed benchmarks, and trtllm's capacity
# policies (whose hooks run beside the cohort) with and without pauses;
# then prefix caching, where the cohort caches the units its members fill
# (tests/fastpath/: shared units from sessions and system prompts, hash ids
# from a trace, and each request's own content, under KV pressure).
#   bash tests/run-fastpath.sh BIN TESTS_DIR
set -u
bin=$1
dir=$2
root=$(cd "$dir/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# check NAME CONFIG [ARGS...]: run both ways and compare the outputs.
check() {
  local name=$1 cfg=$2
  shift 2
  if ! (cd "$root" && "$bin" run "$cfg" -o "$tmp/$name.fast" --quiet "$@") 2>"$tmp/err" </dev/null; then
    echo "FAIL $name: run failed: $(head -1 "$tmp/err")"; fail=$((fail + 1)); return
  fi
  if ! (cd "$root" && SERVESIM_NO_FASTPATH=1 "$bin" run "$cfg" -o "$tmp/$name.slow" --quiet "$@") \
    2>"$tmp/err" </dev/null; then
    echo "FAIL $name: plain run failed: $(head -1 "$tmp/err")"; fail=$((fail + 1)); return
  fi
  local f
  for f in requests.csv timeseries.csv; do
    if ! cmp -s "$tmp/$name.fast/$f" "$tmp/$name.slow/$f"; then
      echo "FAIL $name: $f differs with and without the fast path"; fail=$((fail + 1)); return
    fi
  done
  if ! diff <(grep -v '"wall_s"' "$tmp/$name.fast/summary.json") \
    <(grep -v '"wall_s"' "$tmp/$name.slow/summary.json") >/dev/null; then
    echo "FAIL $name: summary.json differs with and without the fast path"; fail=$((fail + 1)); return
  fi
  pass=$((pass + 1))
  rm -rf "$tmp/$name.fast" "$tmp/$name.slow"
}

for cfg in "$dir"/scenarios/*.yaml; do
  name=$(basename "$cfg" .yaml)
  args=$(sed -n 's/^# args: //p' "$cfg" | head -1)
  eval "check \"$name\" \"$cfg\" $args"
done
kv=$dir/scenarios/kv-preemption.yaml
check kv-swap "$kv" --set engine.preemption_mode=swap
check kv-block8 "$kv" --set engine.block_size=8
check kv-block64-swap "$kv" --set engine.block_size=64 --set engine.preemption_mode=swap \
  --set workload.num_requests=200
check kv-no-chunking "$kv" --set engine.enable_chunked_prefill=false
# A budget of 2,048 tokens: prefill chunks that find blocks short preempt
# after the decodes are placed.
check kv-prefill-preempts "$kv" --set engine.max_num_batched_tokens=2048 \
  --set workload.num_requests=300
check cluster-1024 "$root/bench/cluster-1024.yaml" --set workload.duration_s=3
check cluster-1024-disagg "$root/bench/cluster-1024-disagg.yaml" --set workload.duration_s=3
check azure "$root/bench/azure-100k.yaml" --set workload.num_requests=3000
# trtllm (the cohort beside its capacity policies' hooks): max_utilization
# pausing the newest generating request when blocks run short (at the decode
# pass, and with a 2,048-token budget in the prefill pass), with small
# blocks and whole prompts; guaranteed_no_evict, where nothing is paused,
# with max_model_len and output promises; and the 1,024-GPU study, where
# KV never runs short, under both policies.
mu=$dir/scenarios/trtllm-max-util.yaml
ne=$dir/scenarios/trtllm-no-evict.yaml
check trtllm-mu-budget8k "$mu" --set engine.max_num_batched_tokens=8192
check trtllm-mu-prefill-pauses "$mu" --set engine.max_num_batched_tokens=2048 \
  --set workload.num_requests=300
check trtllm-mu-block8 "$mu" --set engine.block_size=8
check trtllm-mu-no-chunking "$mu" --set engine.enable_chunked_prefill=false \
  --set engine.max_num_batched_tokens=8192
check trtllm-ne-max-model-len "$ne" --set engine.max_tokens=max_model_len \
  --set workload.num_requests=40
check trtllm-ne-block64 "$ne" --set engine.block_size=64 --set workload.num_requests=300
c1024t=$root/bench/cluster-1024-trtllm.yaml
check cluster-1024-trtllm-mu "$c1024t" --set workload.duration_s=3
check cluster-1024-trtllm-ne "$c1024t" --set workload.duration_s=3 \
  --set engine.capacity_scheduler_policy=guaranteed_no_evict
# ... and with KV for about 9 requests per replica: 142 pauses in 3 s.
check cluster-1024-trtllm-pauses "$c1024t" --set workload.duration_s=3 \
  --set engine.gpu_memory_utilization=0.26
# Prefix caching. A decoding member's token fills a cache unit every
# block_size steps; the cohort caches it at the end of that step, in running
# order with the members finishing there, as the plain path does (a unit
# cached a step late changes what a preempted or later request finds and
# what eviction takes: these studies fail then). Sessions whose next turn
# overlaps the answer it extends, on shared system prompts, with KV for a
# few requests: by recomputation and swap, with small and large blocks and
# whole prompts; own content (no source names it) under preemption, where a
# recomputed request takes its own blocks back from the LRU list while
# decoding; data-parallel ranks; Mooncake hash ids; the headline study with
# the cache on; hand-overs to decode replicas, which join with a backlog.
pcs=$dir/fastpath/pc-sessions.yaml
check pc-sessions "$pcs"
check pc-sessions-swap "$pcs" --set engine.preemption_mode=swap
check pc-sessions-block8 "$pcs" --set engine.block_size=8
check pc-sessions-block64 "$pcs" --set engine.block_size=64
check pc-sessions-no-chunking "$pcs" --set engine.enable_chunked_prefill=false
check pc-own-recompute "$kv" --set engine.enable_prefix_caching=true
check pc-own-swap "$kv" --set engine.enable_prefix_caching=true --set engine.preemption_mode=swap
check pc-dp-sessions "$dir/fastpath/pc-dp-sessions.yaml"
check pc-mooncake "$root/bench/mooncake-conv.yaml" --set workload.num_requests=2000
check pc-azure "$root/bench/azure-100k.yaml" --set workload.num_requests=3000 \
  --set engine.enable_prefix_caching=true
check pc-cluster-1024-disagg "$root/bench/cluster-1024-disagg.yaml" --set workload.duration_s=2 \
  --set engine.enable_prefix_caching=true

echo "fast path: $pass identical, $fail failed"
[ "$fail" -eq 0 ]
