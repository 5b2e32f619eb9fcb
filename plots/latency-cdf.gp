# TTFT, TPOT and E2E distributions of one run, as CDFs side by side.
# Input (set before loading): data, a whitespace table with columns
# fraction, ttft_s, tpot_s, e2e_s ('?' where a value is missing; servesim
# plot derives it from requests.csv at 501 evenly spaced quantiles);
# title; note_ttft, note_tpot, note_e2e (panel titles: the percentiles);
# slo_ttft, slo_tpot, slo_e2e (targets in s, 0 = none). A target beyond
# the largest value is named in the key rather than stretching the axis.
set multiplot layout 1,3 title title font ",13"
set ylabel "fraction of requests"
set yrange [0:1]
set ytics 0.25
set key bottom right Right noreverse

do for [k=1:3] {
    metric = word("TTFT TPOT E2E", k)
    slo = (k == 1 ? slo_ttft : (k == 2 ? slo_tpot : slo_e2e))
    set title (k == 1 ? note_ttft : (k == 2 ? note_tpot : note_e2e)) font ",10"
    set xlabel metric." (s)"
    set xrange [0:*]
    unset arrow
    # stats takes one column as y values and keeps those inside the y range
    # (the fractions' [0:1]): open it, or an E2E past 1 s is not counted.
    set yrange [*:*]
    stats data using (column(k + 1)) nooutput
    set yrange [0:1]
    # About four tics of 1, 2 or 5 x 10^n: gnuplot's own choice crowds
    # millisecond TPOTs into labels that run together.
    if (STATS_max > 0) {
        mag = 10**floor(log10(STATS_max / 4.0))
        r = STATS_max / 4.0 / mag
        set xtics mag * (r <= 1 ? 1 : (r <= 2 ? 2 : (r <= 5 ? 5 : 10)))
    } else {
        set xtics autofreq
    }
    if (slo > 0 && slo <= STATS_max * 1.2) {
        set xrange [0:*]
        set arrow 1 from slo, graph 0 to slo, graph 1 nohead ls 9
        plot data using (column(k + 1)):1 with lines ls k notitle, \
             NaN with lines ls 9 title sprintf("SLO %g s", slo)
    } else {
        if (slo > 0) {
            plot data using (column(k + 1)):1 with lines ls k notitle, \
                 NaN with lines lc rgb "white" title sprintf("SLO %g s (off the axis)", slo)
        } else {
            plot data using (column(k + 1)):1 with lines ls k notitle
        }
    }
    if (k == 1) { unset ylabel }
}
unset multiplot
