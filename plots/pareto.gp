# A plan search (servesim plan or capacity): every simulated plan's objective
# against its devices, filled when it meets the SLO, hollow when it misses
# it, and the Pareto front (pareto.csv) joined by a line.
# Input: data (columns 1 devices, 2 objective, 3 meets 0|1), front (1
# devices, 2 objective, sorted by devices), title, xlabel, ylabel.
set title title font ",13"
set xlabel xlabel
set ylabel ylabel
set key top right
set xrange [0:*]
set offsets 0, graph 0.05, graph 0.05, 0
plot data using 1:($3 == 1 ? $2 : 1/0) with points ls 1 pt 7 ps 1.1 title "meets the SLO", \
     data using 1:($3 == 0 ? $2 : 1/0) with points ls 2 pt 6 ps 1.1 title "misses it", \
     front using 1:2 with linespoints ls 7 pt 5 ps 1.4 title "Pareto front"
