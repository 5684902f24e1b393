# The benchmarks' chart, four panels; tools/bench/chart feeds it.
# Variables: data (a folder of <panel>.<n>.dat series), out (the PNG),
# machine (a line saying where the figures come from).
set terminal pngcairo size 1400,1000 font "sans,10" noenhanced
set output out
set multiplot layout 2,2 title "carve benchmarks: ".machine
set key top left font ",9"
set grid
set logscale x 2

files(stem) = system("ls ".data."/".stem.".*.dat 2>/dev/null")
# <stem>.1NN.dat: NN is the variant's style in every panel (the 1 keeps a
# leading 0 from reading as octal).
variant_style(f) = int(f[strlen(f)-6:strlen(f)-4]) - 100
small_sizes = '("16 B" 16, "64 B" 64, "256 B" 256, "1 KiB" 1024, "4 KiB" 4096)'

set title "Round trip host -> kernel -> host (median)"
set xlabel "buffer size"
set xtics ("4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576, \
           "16 MiB" 16777216, "256 MiB" 268435456)
set xrange [3000:360000000]
set ylabel "microseconds"
set logscale y 10
plot for [f in files("trip")] f using 1:2 with linespoints lt variant_style(f) pt variant_style(f) title columnheader(1)

set key bottom right
set title "Alloc/free pairs by block size (median throughput)"
set xlabel "block size"
eval "set xtics ".small_sizes
set xrange [12:5600]
set ylabel "million pairs per second"
plot for [f in files("pairs")] f using 1:2 with linespoints lt variant_style(f) pt variant_style(f) title columnheader(1)

set title "Scaling: 64-byte alloc/free pairs by work-items"
set xlabel "work-items"
set xtics ("2^10" 1024, "2^12" 4096, "2^14" 16384, "2^16" 65536, \
           "2^18" 262144, "2^20" 1048576)
set xrange [800:1400000]
plot for [f in files("scaling")] f using 1:2 with linespoints lt variant_style(f) pt variant_style(f) title columnheader(1)

set key top left
set title "carve utilisation: each arena filled until carve_malloc fails"
set xlabel "block size"
eval "set xtics ".small_sizes
set xrange [12:5600]
set ylabel "allocations / (capacity / size), %"
unset logscale y
set yrange [0:105]
plot for [f in files("use")] f using 1:2 with linespoints lt variant_style(f) pt variant_style(f) title columnheader(1)

unset multiplot
