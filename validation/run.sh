#!/usr/bin/env bash
# End-to-end validation: simulate every case in validation/cases/*.csv with
# servesim and compare with the measurement the case names (ML.ENERGY v2/v3,
# Splitwise, DistServe, TensorRT-LLM tables, Azure benchmarking guide; see
# validation/README.md). Without options it regenerates validation/RESULTS.md
# and validation/results.csv (never edit them by hand).
#
#   bash validation/run.sh [--fast] [--check] [--bin SERVESIM] [--jobs N]
#                          [--suite NAME]... [--keep DIR]
#
# --fast     only the cases marked fast (the CI subset, a few per suite);
#            writes nothing, checks each suite's median |error| against
#            validation/bounds.csv and exits 1 if one is above its bound
# --check    with a full run, also check the full-run bounds
# --bin      servesim to use (default: build build-validation/, Release)
# --jobs     simulations run at once (default: the number of CPUs)
# --suite    only this suite (repeatable; writes no RESULTS.md)
# --keep     keep each case's run directory (summary.json, requests.csv...)
set -euo pipefail
orig=$PWD
cd "$(dirname "$0")/.."
val=validation
abspath() { case $1 in /*) echo "$1" ;; *) echo "$orig/$1" ;; esac; }

fast=0 check=0 bin="" jobs="" keep="" suites=()
while [ $# -gt 0 ]; do
    case $1 in
    --fast) fast=1 ;;
    --check) check=1 ;;
    --bin) bin=$(abspath "$2"); shift ;;
    --jobs) jobs=$2; shift ;;
    --suite) suites+=("$2"); shift ;;
    --keep) keep=$(abspath "$2"); shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
. validation/lib/servesim-bin.sh
servesim_setup
runs=${keep:-$work/runs}
mkdir -p "$runs" "$work/out"

# The case list: "SUITE LINE" for every data row (not a comment, not the
# header) of every case file, in suite and row order: the suites below
# first, in this order (RESULTS.md follows it), then any other file.
order=(mlenergy-v3-h100 mlenergy-v3-b200 mlenergy-v3-moe mlenergy-v3-b200-stall
       mlenergy-v3-moe-b200-stall mlenergy-v2 mlenergy-v2-moe
       splitwise distserve trtllm-v0.14 trtllm-v1.0 trtllm-v0.14-moe azure-e2e-vllm
       azure-e2e-trtllm)
files=()
for s in "${order[@]}"; do [ -f "$val/cases/$s.csv" ] && files+=("$val/cases/$s.csv"); done
for f in "$val"/cases/*.csv; do
    case " ${order[*]} " in *" $(basename "$f" .csv) "*) ;; *) files+=("$f") ;; esac
done
list=$work/list
: >"$list"
for f in "${files[@]}"; do
    s=$(basename "$f" .csv)
    if [ ${#suites[@]} -gt 0 ]; then
        hit=0
        for w in "${suites[@]}"; do [ "$w" = "$s" ] && hit=1; done
        [ $hit = 1 ] || continue
    fi
    awk -F, -v s="$s" -v fast=$fast '
        /^#/ { next }
        !hdr { hdr = 1; for (i = 1; i <= NF; i++) if ($i == "fast") fc = i; next }
        !fast || $fc == "1" { print s, NR }' "$f" >>"$list"
done
[ -s "$list" ] || { echo "run.sh: no cases selected" >&2; exit 2; }

start=$(date +%s)
# One servesim run per case; each writes its own result file, so the order
# of completion does not matter.
export CASE_SH=$val/lib/case.sh BIN=$bin RUNS=$runs
# shellcheck disable=SC2016 # the inner sh expands $1..$3 and the exports
awk -v w="$work/out" '{ print $1, $2, w "/" $1 "." $2 }' "$list" |
    xargs -P "$jobs" -n 3 sh -c 'bash "$CASE_SH" "$BIN" "$1" "$2" "$RUNS" >"$3" 2>"$3.err"' sh || true
elapsed=$(($(date +%s) - start))

results=$work/results
: >"$results"
while read -r s l; do
    o=$work/out/$s.$l
    if [ -s "$o" ]; then
        cat "$o" >>"$results"
    else # the case script itself failed: say so rather than drop the case
        printf '%s|line %s|all|||||error: %s\n' "$s" "$l" \
            "$(head -c 200 "$o.err" 2>/dev/null | tr '\n|' '  ')" >>"$results"
    fi
done <"$list"
awk -f "$val/lib/aggregate.awk" "$results" >"$work/agg"

# --- bounds -----------------------------------------------------------------
check_bounds() { # check_bounds SUBSET STRICT: 0 when every suite is within its bound
    # (and, with STRICT 1, every case ran)
    awk -F'|' -v subset="$1" -v strict="$2" -v bounds="$val/bounds.csv" '
        BEGIN {
            while ((getline line <bounds) > 0) {
                if (line ~ /^#/ || line ~ /^suite,/ || line == "") continue
                split(line, f, ",")
                if (f[3] == subset) { bound[f[1] "|" f[2]] = f[5]; nb++ }
            }
        }
        $1 == "C" && $8 != "ok" && $8 != "reference" {
            printf "%s %s %s %s: %s\n", strict ? "FAIL" : "note", $2, $3, $4, $8
            if (strict) bad = 1
        }
        $1 == "S" {
            k = $2 "|" $3; got[k] = 1
            if (!(k in bound)) { printf "note %s %s: no %s bound (median %s %%)\n", $2, $3, subset, $6; next }
            ok = ($6 != "" && $6 + 0 <= bound[k] + 0)
            printf "%s %-18s %-18s median |err| %6s %%  bound %6s %%\n", ok ? "ok  " : "FAIL", $2, $3, $6, bound[k]
            if (!ok) bad = 1
        }
        END { exit bad }' "$work/agg"
}

if [ $fast = 1 ]; then
    echo "validation (fast subset, $(wc -l <"$list") cases, ${elapsed} s):"
    check_bounds fast 1
    exit $?
fi
if [ ${#suites[@]} -gt 0 ]; then
    grep '^S|' "$work/agg" | awk -F'|' '{ printf "%-18s %-18s n=%-4s failed=%-3s median %s %%  p90 %s %%  bias %s %%  ratio %s\n", $2, $3, $4, $5, $6, $7, $8, $9 }'
    grep '^C|' "$work/agg" | awk -F'|' '{ printf "  %-60s %-16s %10s %10s %7s %s\n", $3, $4, $5, $6, $7, ($8 == "ok" ? "" : $8) }'
    exit 0
fi

# --- RESULTS.md and results.csv -------------------------------------------------
{
    echo "suite,case,metric,measured,servesim,error_pct,status"
    grep '^C|' "$work/agg" | cut -d'|' -f2- | tr ',' ';' | tr '|' ','
} >"$val/results.csv"

awk -F'|' -v valdir="$val" '
function desc(m) {
    if (m == "ss_tput_v3_tok_s") return "steady-state output tok/s"
    if (m == "ss_tput_v2_tok_s") return "steady-state output tok/s"
    if (m == "avg_tpot_v2_ms") return "Avg TPOT (per-iteration mean), ms"
    if (m == "tput_tok_s") return "output tok/s"
    if (m == "ttft_mean_ms") return "mean TTFT, ms"
    if (m == "tpot_mean_ms") return "mean TPOT, ms"
    if (m == "prefill_ms") return "prefill iteration, ms"
    if (m == "decode_ms") return "decode iteration, ms"
    if (m ~ /^itl_p/) { p = m; sub(/^itl_p/, "", p); sub(/_ms$/, "", p); return "ITL p" p ", ms" }
    return m
}
BEGIN {
    print "# End-to-end validation results"
    print ""
    print "Generated by `bash validation/run.sh` from the cases in"
    print "[validation/cases/](cases/) (measured values with their source file and row"
    print "under `../shared/data`); how each source was measured, how a case is"
    print "simulated and what is assumed where a source is silent:"
    print "[validation/README.md](README.md). Do not edit by hand: rerun the command."
    print "Per-case rows are also in [results.csv](results.csv); the figure"
    print "[accuracy.svg](accuracy.svg) plots them against the measurements."
    print ""
    print "Error = servesim / measured - 1. For the TensorRT-LLM tables each row is"
    print "first divided by its group\x27s ISL/OSL 1000/1000 row (same model, GPU,"
    print "precision and TP), and the error is that of the ratio; `abs ratio` is the"
    print "median servesim / TensorRT-LLM before that division. Median and p90 are of"
    print "|error| over the cases that ran; bias is the median signed error."
    print ""
    print "| suite | metric | cases | failed | median \\|err\\| | p90 \\|err\\| | bias | abs ratio |"
    print "|---|---|---|---|---|---|---|---|"
}
$1 == "S" {
    anchor = tolower($2) # GitHub heading anchors keep letters, digits, - and _
    gsub(/[^a-z0-9_-]/, "", anchor)
    printf "| [%s](#%s) | %s | %d | %d | %s | %s | %s | %s |\n", $2, anchor, desc($3), $4, $5,
        ($6 == "" ? "n/a" : $6 " %"), ($7 == "" ? "n/a" : $7 " %"), ($8 == "" ? "n/a" : $8 " %"),
        ($9 == "" ? "" : $9)
}
$1 == "C" { rows[++n] = $0 }
END {
    for (i = 1; i <= n; i++) {
        split(rows[i], f, "|")
        if (f[2] != cur) {
            if (cur != "") print "\n</details>"
            cur = f[2]
            print ""
            print "## " cur
            print ""
            file = valdir "/cases/" cur ".csv"
            while ((getline line <file) > 0) {
                if (line !~ /^#/) break
                sub(/^# ?/, "", line)
                if (line ~ /^Generated by/) continue
                print line
            }
            close(file)
            print ""
            print "<details><summary>every case</summary>"
            print ""
            print "| case | metric | measured | servesim | error | status |"
            print "|---|---|---|---|---|---|"
        }
        printf "| %s | %s | %s | %s | %s | %s |\n", f[3], f[4], f[5], f[6],
            (f[7] == "" ? "" : f[7] " %"), f[8]
    }
    if (cur != "") print "\n</details>"
}' "$work/agg" >"$val/RESULTS.md"
# The figure: servesim against measurement, case by case (needs gnuplot,
# which scripts/deps.sh installs; skipped without it).
if command -v gnuplot >/dev/null 2>&1; then
    awk -F'|' '
        function put(b, m, p) { if (p != "" && m > 0) blk[b] = blk[b] m " " p "\n" }
        $1 != "C" || $8 != "ok" { next }
        $2 == "mlenergy-v3-h100" && $4 == "ss_tput_v3_tok_s" { put(0, $5, $6) }
        $2 == "mlenergy-v3-b200" && $4 == "ss_tput_v3_tok_s" { put(1, $5, $6) }
        $2 == "mlenergy-v3-moe" && $4 == "ss_tput_v3_tok_s" { put(2, $5, $6) }
        $2 == "mlenergy-v2" && $4 == "ss_tput_v2_tok_s" { put(3, $5, $6) }
        $2 == "azure-e2e-vllm" { put(4, $5, $6) }
        $2 == "mlenergy-v3-h100" && $4 == "itl_p50_ms" { put(5, $5, $6) }
        $2 == "mlenergy-v3-b200" && $4 == "itl_p50_ms" { put(6, $5, $6) }
        $2 == "splitwise" { put(7, $5, $6) }
        $2 == "distserve" { put(8, $5, $6) }
        END { for (b = 0; b <= 8; b++) printf "%s\n\n", (b in blk ? blk[b] : "1e-9 1e-9\n") }
    ' "$work/agg" >"$work/accuracy.dat"
    gnuplot -e "fmt='svg'; out='$val/accuracy.svg'; data='$work/accuracy.dat'; width=1400; height=640" \
        "$val/lib/accuracy.gp"
fi
echo "wrote $val/RESULTS.md, $val/results.csv and $val/accuracy.svg ($(wc -l <"$list") cases, ${elapsed} s)"
if [ $check = 1 ]; then
    check_bounds full 0
fi
