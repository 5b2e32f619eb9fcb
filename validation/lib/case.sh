#!/usr/bin/env bash
# One validation case: simulate it with servesim and print one line per
# measured metric, "suite|id|metric|measured|predicted|group|ref|status".
# Called by validation/run.sh (in parallel); reads row LINE of
# validation/cases/SUITE.csv, whose header names the metrics (any column
# from this list that the row fills in):
#   ss_tput_v3_tok_s  ML.ENERGY v3 steady-state output tokens/s: from when B
#                     requests have their first token until N - B have
#   itl_p50_ms ...    inter-token latency percentiles (summary.json itl_s)
#   ss_tput_v2_tok_s  ML.ENERGY v2 steady state: until the waiting queue
#                     first empties (per iteration, from --trace-events)
#   avg_tpot_v2_ms    ML.ENERGY v2 Avg TPOT: mean over iterations of the
#                     iteration's mean time since each sequence's last token
#   ttft_mean_ms      mean TTFT; tpot_mean_ms: mean TPOT (summary.json)
#   tput_tok_s        output tokens/s over the whole run (summary.json)
#   prefill_ms        (study "predict") one iteration of the batch in column
#   decode_ms         prefill_batch / decode_batch: `servesim predict` with
#                     the row's sets as its options, iteration_s
# Usage: case.sh SERVESIM SUITE LINE WORKDIR
set -euo pipefail
trap 'echo "case.sh: $2 line $3: command failed at line $LINENO" >&2' ERR
bin=$1 suite=$2 line=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
val=$(dirname "$here")
csv=$val/cases/$suite.csv

header=$(awk '!/^#/ { print; exit }' "$csv")
row=$(sed -n "${line}p" "$csv")
field() { # field NAME: the row's value of column NAME (empty if none)
    awk -F, -v h="$header" -v r="$row" -v want="$1" 'BEGIN {
        n = split(h, hs, ","); split(r, rs, ",")
        for (i = 1; i <= n; i++) if (hs[i] == want) { print rs[i]; exit } }'
}
id=$(field id)
study=$(field study)
sets=$(field sets)
outhist=$(field outhist)
group=$(field group)
ref=$(field ref)
metrics=$(echo "$header" | tr ',' '\n' |
    grep -E '^(ss_tput_v3_tok_s|itl_p[0-9]+_ms|ss_tput_v2_tok_s|avg_tpot_v2_ms|ttft_mean_ms|tpot_mean_ms|tput_tok_s|prefill_ms|decode_ms)$')

dir=$work/$suite/$line
rm -rf "$dir"
mkdir -p "$dir"
setval() { # setval KEY: the value a --set of the case gives KEY
    local kv
    for kv in $sets; do [ "${kv%%=*}" = "$1" ] && echo "${kv#*=}"; done
}
args=()
for kv in $sets; do args+=(--set "$kv"); done

# ML.ENERGY v3: the output lengths of the run's own histogram, as a trace
# whose rows are the histogram's quantiles (uniform inside each bin, one row
# per request), in a fixed shuffled order the study samples from.
if [ -n "$outhist" ]; then
    awk -v spec="$outhist" 'BEGIN {
        split(spec, p, ":"); lo = p[1] + 0; hi = p[2] + 0
        nb = split(p[3], c, " "); w = (hi - lo) / nb; n = 0
        for (b = 1; b <= nb; b++) n += c[b]
        print "arrival_s,input_tokens,output_tokens"
        k = 0
        for (b = 1; b <= nb; b++)
            for (j = 0; j < c[b]; j++) {
                v = int(lo + (b - 1) * w + (j + 0.5) / c[b] * w + 0.5)
                if (v < 1) v = 1
                out[k++] = v
            }
        # 7919 is prime: i * 7919 mod n visits every row once unless n is a
        # multiple of it (no histogram here is that large).
        for (i = 0; i < n; i++) print "0,1," out[(i * 7919) % n]
    }' >"$dir/outlen.csv"
    args+=(--set "workload.trace=$dir/outlen.csv")
fi

trace=()
case $metrics in # (no `echo | grep -q`: under pipefail its SIGPIPE is a race)
*_v2_*) trace=(--trace-events "$dir/trace.json" --trace-events-limit 0) ;;
esac

emit() { # emit METRIC MEASURED PREDICTED STATUS
    printf '%s|%s|%s|%s|%s|%s|%s|%s\n' "$suite" "$id" "$1" "$2" "$3" "$group" "$ref" "$4"
}

# Iteration-level cases: one `servesim predict` per metric.
if [ "$study" = predict ]; then
    for m in $metrics; do
        meas=$(field "$m")
        [ -n "$meas" ] || continue
        batch=$(field "${m%_ms}_batch")
        # shellcheck disable=SC2086 # sets holds the options, one per word
        if "$bin" predict $sets --batch "$batch" --json >"$dir/$m.json" 2>"$dir/stderr"; then
            pred=$(awk -F: '/"iteration_s"/ { gsub(/[ ,]/, "", $2); printf "%.6g", $2 * 1000; exit }' \
                "$dir/$m.json")
            emit "$m" "$meas" "$pred" ok
        else
            msg=$(head -c 300 "$dir/stderr" | tr '\n|' '  ' | sed 's/  *$//')
            emit "$m" "$meas" "" "error: ${msg:-servesim failed}"
        fi
    done
    exit 0
fi

if ! "$bin" run "$val/studies/$study" "${args[@]}" "${trace[@]}" -o "$dir" --quiet \
    >"$dir/stdout" 2>"$dir/stderr"; then
    msg=$(head -c 300 "$dir/stderr" | tr '\n|' '  ' | sed 's/  *$//')
    for m in $metrics; do emit "$m" "$(field "$m")" "" "error: ${msg:-servesim failed}"; done
    exit 0
fi

flat=$(awk -f "$here/flatten-json.awk" "$dir/summary.json")
summary() { awk -v k="$1" '$1 == k { print $2; exit }' <<<"$flat"; }
completed=$(summary completed)
rejected=$(summary rejected)

for m in $metrics; do
    meas=$(field "$m")
    [ -n "$meas" ] || continue
    pred=""
    status=ok
    case $m in
    itl_p*_ms)
        p=${m#itl_}; p=${p%_ms}
        pred=$(summary "itl_s.$p" | awk '{ printf "%.6g", $1 * 1000 }') ;;
    ttft_mean_ms) pred=$(summary ttft_s.mean | awk '{ printf "%.6g", $1 * 1000 }') ;;
    tpot_mean_ms) pred=$(summary tpot_s.mean | awk '{ printf "%.6g", $1 * 1000 }') ;;
    tput_tok_s) pred=$(summary throughput.output_tokens_per_s | awk '{ printf "%.6g", $1 }') ;;
    ss_tput_v3_tok_s)
        pred=$(awk -f "$here/steady-v3.awk" -v b="$(setval workload.arrival.concurrency)" \
            "$dir/requests.csv" "$dir/timeseries.csv") ;;
    ss_tput_v2_tok_s)
        pred=$(awk -f "$here/iter-v2.awk" -v want=tput "$dir/trace.json") ;;
    avg_tpot_v2_ms)
        pred=$(awk -f "$here/iter-v2.awk" -v want=tpot "$dir/trace.json") ;;
    esac
    if [ "$rejected" != 0 ]; then
        status="rejected $rejected of $((completed + rejected)) requests"
    elif [ -z "$pred" ]; then
        status="error: no prediction"
    fi
    emit "$m" "$meas" "$pred" "$status"
done
# Keep only what a later look at a case needs.
rm -f "$dir/trace.json" "$dir/outlen.csv"
