#!/usr/bin/env bash
# Fit the roofline factors of a device without kernel tables (today the B200)
# to the median inter-token latency of the TRAINING rows of
# validation/power/cases.csv (dense ML.ENERGY v3 models only), rerunnably:
#   bash validation/power/fit-timing.sh [--bin SERVESIM] [--jobs N] [--device b200]
#        [--mem "0.8 0.7"] [--iter "700 1000"] [--req "20 ... 60"] [--launch "4"]
# A device with calibrated tables gets its times from them; one without
# them is a roofline whose efficiency factors (efficiency.memory,
# and host overheads (overheads.iteration_us, per_request_us) are
# otherwise spec-sheet guesses, as is the cost a roofline kernel adds to its
# step (overheads.kernel_launch_us: under CUDA graphs, a graph node's).
# This script simulates every training row on each point of a grid of those
# four factors (--mem, --iter, --req, --launch: lists of values; prefill
# attention's factor barely moves the ITL) and
# prints the grid sorted by the median |log(servesim / measured)| of the
# median ITL (robust: a few rows that no factor explains do not pull the
# fit), with the median signed error. The held-out rows (split = heldout)
# never enter; run.sh checks them after the chosen factors are written into
# the profile by hand, with a comment naming this fit.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=validation/power
bin="" jobs="" device=b200
mems="0.8 0.7"
iters="700 1000"
reqs="20 30 40 50 60"
launches="4"
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --device) device=$2; shift ;;
    --mem) mems=$2; shift ;;
    --iter) iters=$2; shift ;;
    --req) reqs=$2; shift ;;
    --launch) launches=$2; shift ;;
    *) echo "fit-timing.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
. validation/lib/servesim-bin.sh
servesim_setup

# One profile per grid point: the three keys replaced, everything else kept.
variant() { # variant NAME MEM ITER REQ LAUNCH
    awk -v m="$2" -v it="$3" -v rq="$4" -v ln="$5" '
        /^efficiency:/ { print; printf "  memory: %s\n", m; sect = "e"; next }
        /^overheads:/ { print; printf "  iteration_us: %s\n  per_request_us: %s\n  kernel_launch_us: %s\n", it, rq, ln; sect = "o"; next }
        /^[^ #]/ { sect = "" }
        sect == "e" && /^  memory:/ { next }
        sect == "o" && /^  (iteration_us|per_request_us|kernel_launch_us):/ { next }
        { print }' "hwprofiles/$device.yaml" >"$work/$1.yaml"
}
n=0
for m in $mems; do for it in $iters; do for rq in $reqs; do for ln in $launches; do
    n=$((n + 1))
    variant "g$n" "$m" "$it" "$rq" "$ln"
    echo "g$n $m $it $rq $ln" >>"$work/grid"
done; done; done; done

awk -F, -v d="$device" '!/^#/ && $1 != "id" && $4 == "train" && ($2 == "mlenergy-v3" || $2 == "mlenergy-v3-stall") && $3 == d && $11 != "" { print NR }' \
    "$here/cases.csv" >"$work/rows"
while read -r g _; do
    while read -r line; do echo "$line $work/$g.yaml $work/out.$g.$line"; done <"$work/rows"
done <"$work/grid" | xargs -P "$jobs" -n 3 sh -c \
    'bash validation/power/case.sh "$0" "$2" "$1/runs" "$3" >"$4"' "$bin" "$work" || true

echo "# $(wc -l <"$work/rows") training rows of $device; sorted by median |log error| of median ITL"
echo "memory iteration_us per_request_us kernel_launch_us median_abs_log_err median_err_pct failed"
while read -r g m it rq ln; do
    while read -r line; do
        meas=$(sed -n "${line}p" "$here/cases.csv" | cut -d, -f11)
        sim=$(cut -d'|' -f8,11 "$work/out.$g.$line" 2>/dev/null || true)
        echo "$meas|$sim"
    done <"$work/rows" | awk -F'|' -v p="$m $it $rq $ln" '
        function med(a, n,    i, j, t) {
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i; j > 1 && a[j - 1] > t; j--) a[j] = a[j - 1]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $3 != "ok" || $2 <= 0 { bad++; next }
        { k++; l = log($2 / $1); al[k] = l < 0 ? -l : l; e[k] = ($2 / $1 - 1) * 100 }
        END { printf "%s %.4f %.1f %d\n", p, med(al, k), med(e, k), bad }'
done <"$work/grid" | sort -k5,5g
