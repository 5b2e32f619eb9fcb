# Throughput and latency across request rates: one point per run of a sweep.
# Input: data, a whitespace table sorted by offered rate with columns
#   1 offered_rps  2 achieved_rps  3 output_tok_s
#   4-6 ttft p50 p90 p99   7-9 tpot p50 p90 p99   10-12 e2e p50 p90 p99
#   13 slo_attainment (0..1)
# (servesim plot derives it from each run's summary.json and requests.csv);
# title; slo_ttft, slo_tpot, slo_e2e (s, 0 = none).
set multiplot layout 2,2 title title font ",13"
set xlabel "offered load (requests/s)"
set xrange [0:*]
set key top left

set ylabel "achieved throughput (requests/s)"
set yrange [0:*]
plot data using 1:2 with linespoints ls 1 pt 7 title "served", \
     data using 1:1 with lines ls 9 title "offered"

set logscale y
set yrange [*:*]
do for [k=1:3] {
    metric = word("TTFT TPOT E2E", k)
    slo = (k == 1 ? slo_ttft : (k == 2 ? slo_tpot : slo_e2e))
    c = 1 + 3 * k
    set ylabel metric." (s)"
    if (slo > 0) {
        plot data using 1:(column(c)) with linespoints ls 1 pt 7 title "p50", \
             data using 1:(column(c + 1)) with linespoints ls 5 pt 7 title "p90", \
             data using 1:(column(c + 2)) with linespoints ls 2 pt 7 title "p99", \
             slo with lines ls 9 title sprintf("SLO %g s", slo)
    } else {
        plot data using 1:(column(c)) with linespoints ls 1 pt 7 title "p50", \
             data using 1:(column(c + 1)) with linespoints ls 5 pt 7 title "p90", \
             data using 1:(column(c + 2)) with linespoints ls 2 pt 7 title "p99"
    }
}
unset multiplot
