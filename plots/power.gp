# Power over simulated time: one line per power column of timeseries.csv
# (the cluster's power_w, and power_w_<pool> columns where a run has them).
# Input: ts, stride, tscale, tunit, title; power_cols (space-separated
# 1-based column numbers) and power_names (their labels, same order);
# power_max (largest value, W; 0 when the run has no power figures).
set datafile separator comma
set title title font ",13"
set xlabel "simulated time (".tunit.")"
set ylabel "power (W)"
set xrange [0:*]
set autoscale xfixmax
if (power_max > 0) {
    set yrange [0:*]
} else {
    set yrange [0:1]
    set label 1 "every sample is 0 W: this run has no power figures" at graph 0.5, graph 0.5 center tc rgb "#777777"
}
plot for [i=1:words(power_cols)] ts every stride skip 1 \
     using (column(c_time)*tscale):(column(int(word(power_cols, i)))) with lines ls i title word(power_names, i)
