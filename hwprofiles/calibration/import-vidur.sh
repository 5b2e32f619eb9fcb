#!/usr/bin/env bash
# Re-creates the Vidur calibration inputs under hwprofiles/calibration/ from
# the public data set (../shared/data/vidur and ../shared/data/vidur_profiling,
# see their PROVENANCE.md). Each file is Vidur's own, with only the columns
# servesim reads kept (the per-op medians, the geometry and the sweep axes):
# rows, their order and every kept cell are unchanged, so the files remain in
# Vidur's format. Run from anywhere; DATA defaults to ../shared/data beside
# the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${DATA:-$root/../shared/data}
[ -d "$data/vidur" ] || { echo "import-vidur.sh: $data/vidur not found (set DATA)" >&2; exit 2; }

# keep SRC DST REGEX: copy the columns whose header matches REGEX, in order.
keep() {
  mkdir -p "$(dirname "$2")"
  awk -F, -v re="$3" 'BEGIN { OFS = "," }
    NR == 1 { n = 0; for (i = 1; i <= NF; i++) if ($i ~ re) col[++n] = i }
    { line = ""; for (j = 1; j <= n; j++) line = line (j > 1 ? OFS : "") $(col[j]); print line }' \
    "$1" >"$2"
}

mlp='^(time_stats\.[a-z_]+\.median|n_head|n_kv_head|n_embd|n_expanded_embd|vocab_size|use_gated_mlp|num_tokens|num_tensor_parallel_workers)$'
attn='^(time_stats\.attn_(prefill|decode)\.median|n_embd|n_q_head|n_kv_head|block_size|num_tensor_parallel_workers|max_model_len|batch_size|prefill_chunk_size|kv_cache_size|is_prefill|attention_backend|profile_method)$'
net='^(time_stats\.(all_reduce|send_recv)\.median|rank|num_workers|size|collective|devices_per_node|max_devices_per_node)$'
cpu='^([a-z0-9_]+_(median|mean)|model_name|batch_size|tensor_parallel_degree)$'

v=$data/vidur
vp=$data/vidur_profiling
for dev in a100:a100-sxm-80g h100:h100-sxm a40:a40; do
  gpu=${dev%%:*}
  out=$here/${dev#*:}/vidur
  rm -rf "$out"
  for f in "$v"/data/profiling/compute/"$gpu"/*/*/mlp.csv "$vp"/compute/"$gpu"/*/*/mlp.csv; do
    [ -f "$f" ] || continue
    model=$(basename "$(dirname "$f")")
    keep "$f" "$out/compute/$model/mlp.csv" "$mlp"
  done
  # A40: Vidur has no all-reduce profile, and its pairwise send/recv
  # profile is left out on purpose (a40/PROVENANCE.md says why).
  if [ "$gpu" != a40 ]; then
    keep "$v/data/profiling/network/${gpu}_dgx/all_reduce.csv" "$out/network/all_reduce.csv" "$net"
    keep "$v/data/profiling/network/${gpu}_dgx/send_recv.csv" "$out/network/send_recv.csv" "$net"
  fi
  # Host-side overheads were profiled on A100 hosts only; H100 and A40 use them too.
  keep "$v/history/57720ca/data/profiling/a100/cpu_overheads.csv" \
    "$out/cpu_overheads/cpu_overheads.csv" "$cpu"
done
# The only attention profile there is: A100, FlashAttention, 64 q / 8 kv heads at TP2.
keep "$v/history/acb95f6/data/profiling/a100/attention.csv" \
  "$here/a100-sxm-80g/vidur/attention/attention.csv" "$attn"
echo "import-vidur.sh: wrote $here/a100-sxm-80g/vidur, $here/h100-sxm/vidur and $here/a40/vidur"
