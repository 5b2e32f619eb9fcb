# servesim against measurement, one point per validation case: left,
# throughput (output tokens/s); right, per-token and per-iteration latency
# (ms). The solid line is perfect agreement, the dashed ones +-25 %.
# Driven by validation/run.sh: data = file of blank-line-separated blocks
# "measured predicted" in the order the plot commands below read them.
load "plots/common.gp"
set multiplot layout 1,2
set logscale xy
set format x "%g"; set format y "%g"
set size ratio -1
set key top left

set title "Throughput (output tokens/s)"
set xlabel "measured"; set ylabel "servesim"
set xrange [50:50000]; set yrange [50:50000]
plot x ls 7 lw 1 notitle, 1.25*x ls 9 notitle, 0.8*x ls 9 notitle, \
     data index 0 using 1:2 with points pt 7 ps 0.5 lc rgb "#0072b2" title "ML.ENERGY v3, H100", \
     data index 1 using 1:2 with points pt 7 ps 0.5 lc rgb "#56b4e9" title "ML.ENERGY v3, B200", \
     data index 2 using 1:2 with points pt 7 ps 0.5 lc rgb "#009e73" title "ML.ENERGY v3, MoE", \
     data index 3 using 1:2 with points pt 5 ps 0.5 lc rgb "#d55e00" title "ML.ENERGY v2 (vLLM 0.5.4)", \
     data index 4 using 1:2 with points pt 9 ps 0.7 lc rgb "#cc79a7" title "Azure guide, vLLM MI300X"

set title "Latency (ms)"
set xrange [1:20000]; set yrange [1:20000]
plot x ls 7 lw 1 notitle, 1.25*x ls 9 notitle, 0.8*x ls 9 notitle, \
     data index 5 using 1:2 with points pt 7 ps 0.5 lc rgb "#0072b2" title "ML.ENERGY v3 ITL p50, H100", \
     data index 6 using 1:2 with points pt 7 ps 0.5 lc rgb "#56b4e9" title "ML.ENERGY v3 ITL p50, B200", \
     data index 7 using 1:2 with points pt 5 ps 0.5 lc rgb "#e69f00" title "Splitwise prompt / token time", \
     data index 8 using 1:2 with points pt 9 ps 0.6 lc rgb "#000000" title "DistServe fits (vLLM, A100)"
unset multiplot
