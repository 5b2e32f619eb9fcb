# Queue, batch and KV-cache occupancy of one run over simulated time, in
# stacked panels sharing the time axis.
# Input: ts (timeseries.csv), stride (plot every stride-th row), tscale and
# tunit (seconds -> shown unit), title, and the 1-based columns c_time,
# c_running, c_waiting, c_kv, c_bseqs, c_btok (0 when the file lacks
# batch_seqs / batch_tokens, written since servesim 0.1).
set datafile separator comma
nrows = (c_bseqs > 0 ? 3 : 2)
set multiplot layout nrows,1 title title font ",13"
set lmargin 12
set rmargin 12
set xrange [0:*]
set autoscale xfixmax
set format x ""
unset xlabel

set ylabel "requests"
set yrange [0:*]
plot ts every stride skip 1 using (column(c_time)*tscale):(column(c_running)) with lines ls 1 title "running", \
     ''  every stride skip 1 using (column(c_time)*tscale):(column(c_waiting)) with lines ls 2 title "waiting (queued)"

if (c_bseqs > 0) {
    set ylabel "requests per iteration"
    set y2label "tokens per iteration"
    set y2tics
    set y2range [0:*]
    plot ts every stride skip 1 using (column(c_time)*tscale):(column(c_bseqs)) with lines ls 3 title "batch size (requests)", \
         ''  every stride skip 1 using (column(c_time)*tscale):(column(c_btok)) axes x1y2 with lines ls 5 title "batch tokens (right axis)"
    unset y2label
    unset y2tics
}

set format x "%g"
set xlabel "simulated time (".tunit.")"
set ylabel "KV cache used (%)"
set yrange [0:100]
plot ts every stride skip 1 using (column(c_time)*tscale):(100*column(c_kv)) with lines ls 4 title "KV blocks in use"
unset multiplot
