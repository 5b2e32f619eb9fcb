# Terminal and style shared by the servesim plots; load it before a plot
# script. Expects fmt ('png' or 'svg') and out (the file to write); width and
# height (pixels) are optional. `servesim plot` writes these variables into a
# small driver file; by hand:
#   gnuplot -e "fmt='svg'; out='cdf.svg'; data='cdf.dat'; title='x'" \
#           plots/common.gp plots/latency-cdf.gp
if (!exists("width")) width = 1200
if (!exists("height")) height = 420
if (fmt eq "svg") {
    set terminal svg size width,height dynamic noenhanced font "DejaVu Sans,12" background rgb "white"
} else {
    set terminal pngcairo size width,height noenhanced font "DejaVu Sans,10" background rgb "white"
}
set output out
set grid lc rgb "#d8d8d8" lw 1
set border 3 lc rgb "#444444"
set tics nomirror
set key top left Left reverse noopaque samplen 2
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
set style line 1 lc rgb "#0072b2" lw 2
set style line 2 lc rgb "#d55e00" lw 2
set style line 3 lc rgb "#009e73" lw 2
set style line 4 lc rgb "#cc79a7" lw 2
set style line 5 lc rgb "#e69f00" lw 2
set style line 6 lc rgb "#56b4e9" lw 2
set style line 7 lc rgb "#000000" lw 2
set style line 9 lc rgb "#777777" lw 1.5 dt 2
set datafile missing "?"
