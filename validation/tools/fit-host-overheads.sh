#!/usr/bin/env bash
# Fit a device's vLLM 0.5 host overhead profile (overheads.profiles.vllm-0.5
# of hwprofiles/DEVICE.yaml: iteration_us, per_device_us, per_request_us) to
# the TRAINING rows of the ML.ENERGY v2 suite, rerunnably:
#   bash validation/tools/fit-host-overheads.sh --device h100-sxm \
#        [--iter "0 2000"] [--dev "8000 9000"] [--req "250 300"] [--bin S] [--jobs N]
# Split, fixed by model before any fit was run: the training rows are the
# Llama 3.1 8B and 70B rows of validation/cases/mlenergy-v2.csv on DEVICE
# (one and several GPUs, so the per-step and per-device terms separate);
# every other row (Mistral 7B, Llama 3.1 405B, all of mlenergy-v2-moe) is
# held out and never enters. Every point of the grid (the three lists) is
# simulated on every training row with the profile's line replaced, and the
# grid is printed sorted by the mean |log(servesim / measured)| over both
# metrics (steady-state output tok/s and Avg TPOT), with the median signed
# error of each. The chosen values are written into the profile by hand,
# with a comment naming this fit; validation/run.sh then checks the held-out
# rows. Needs the profile to hold a one-line `vllm-0.5: {...}` entry.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="" jobs="" device=h100-sxm
iters="0"
devs="8000 8500 9000"
reqs="250 300 350"
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --device) device=$2; shift ;;
    --iter) iters=$2; shift ;;
    --dev) devs=$2; shift ;;
    --req) reqs=$2; shift ;;
    *) echo "fit-host-overheads.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
. validation/lib/servesim-bin.sh
servesim_setup
prof=hwprofiles/$device.yaml
grep -q '^    vllm-0\.5: {' "$prof" || {
    echo "fit-host-overheads.sh: $prof has no one-line 'vllm-0.5: {...}' profile" >&2
    exit 2
}

# A private copy of the validation inputs (case.sh finds studies and data
# next to its own folder), with the training rows only.
mkdir -p "$work/v/cases"
cp -r validation/lib validation/studies validation/data "$work/v/"
suite=mlenergy-v2
awk -F, -v d="$device" '
    /^#/ || $1 == "id" { print; next }
    $1 ~ /Meta-Llama-3\.1-(8B|70B)-/ && $4 ~ ("hardware=" d "( |$)") { print }' \
    "validation/cases/$suite.csv" >"$work/train.csv"
n=0
for it in $iters; do for dv in $devs; do for rq in $reqs; do
    n=$((n + 1))
    sed "s|^    vllm-0\.5: {.*|    vllm-0.5: {iteration_us: $it, per_device_us: $dv, per_request_us: $rq}|" \
        "$prof" >"$work/g$n.yaml"
    sed "s#hardware=$device\( \|,\)#hardware=$work/g$n.yaml\1#" "$work/train.csv" \
        >"$work/v/cases/g$n.csv"
    echo "g$n $it $dv $rq" >>"$work/grid"
done; done; done
rows=$(awk -F, '!/^#/ && $1 != "id" { print NR }' "$work/train.csv")
[ -n "$rows" ] || { echo "fit-host-overheads.sh: no training rows for $device" >&2; exit 2; }
while read -r g _; do
    for line in $rows; do echo "$g $line"; done
done <"$work/grid" | xargs -P "$jobs" -n 2 sh -c \
    'bash "$0/v/lib/case.sh" "$1" "$2" "$3" "$0/runs" >"$0/out.$2.$3" 2>/dev/null' "$work" "$bin" || true

echo "# $(echo "$rows" | wc -w) training rows of $device ($suite, Llama 3.1 8B and 70B); sorted by mean |log error|"
echo "iteration_us per_device_us per_request_us mean_abs_log_err tput_median_err_pct tpot_median_err_pct failed"
while read -r g it dv rq; do
    cat "$work"/out."$g".* 2>/dev/null | awk -F'|' -v p="$it $dv $rq" '
        function med(a, n,    i, j, t) {
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i; j > 1 && a[j - 1] > t; j--) a[j] = a[j - 1]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        $8 != "ok" || $5 <= 0 { bad++; next }
        { l = log($5 / $4); s += l < 0 ? -l : l; k++
          if ($3 ~ /tput/) tp[++nt] = ($5 / $4 - 1) * 100; else tq[++nq] = ($5 / $4 - 1) * 100 }
        END { printf "%s %.4f %.1f %.1f %d\n", p, k ? s / k : 99, nt ? med(tp, nt) : 0, nq ? med(tq, nq) : 0, bad }'
done <"$work/grid" | sort -k4,4g
