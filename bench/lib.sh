# bench/lib.sh: shared by bench/run and bench/compare (sourced, not run).
# Builds the measuring tools, finds the allocators, runs one measured command
# and appends its figures to a CSV file, turns a CSV into tables (report.awk)
# and draws the charts with gnuplot. Expects BENCH_ROOT (the repo top) set.
# Everything it writes goes under bench/build/ and the results directory.

BENCH_DIR="$BENCH_ROOT/bench"
BENCH_BUILD="$BENCH_DIR/build"
BENCH_GNUPLOT="${GNUPLOT:-gnuplot}"
BENCH_CC="${CC:-cc}"
BENCH_CXX="${CXX:-c++}"
BENCH_CFLAGS="-O2 -pthread"
BENCH_CSV_HEADER="run,workload,allocator,status,wall_s,cpu_s,user_s,sys_s,peak_rss_kib,end_rss_kib,minflt,majflt,meta_mapped,meta_resident,checksum"

bench_say() { printf '%s\n' "$*" >&2; }

# bench_build_one OUT SRC COMPILER FLAGS...: compiles when SRC (or the shared
# header) is newer than OUT. Returns non-zero when the compiler fails.
bench_build_one() {
	local out=$1 src=$2 comp=$3
	shift 3
	if [ -x "$out" ] && [ "$out" -nt "$src" ] &&
		[ "$out" -nt "$BENCH_DIR/workloads/common.h" ]; then
		return 0
	fi
	"$comp" "$@" -o "$out" "$src"
}

# Builds measure and the two helper libraries (needed by run and compare).
bench_build_tools() {
	mkdir -p "$BENCH_BUILD" || return 1
	bench_build_one "$BENCH_BUILD/measure" "$BENCH_DIR/measure.c" "$BENCH_CC" \
		-O2 -Wall -Wextra || return 1
	bench_build_one "$BENCH_BUILD/glibc-shim.so" "$BENCH_DIR/glibc-shim.c" \
		"$BENCH_CC" -O2 -fPIC -shared -Wall -Wextra || return 1
	bench_build_one "$BENCH_BUILD/bmmeta.so" "$BENCH_DIR/bmmeta.c" \
		"$BENCH_CC" -O2 -fPIC -shared -Wall -Wextra || return 1
}

# Finds a shared library by soname via ldconfig, then in the usual dirs.
bench_find_lib() {
	local so=$1 p dir
	p=$(ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so && /x86-64|x86_64|64bit/ { print $NF; exit }')
	if [ -n "$p" ] && [ -e "$p" ]; then
		printf '%s\n' "$p"
		return 0
	fi
	for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu \
		/usr/lib/"$(gcc -print-multiarch 2>/dev/null)" /usr/lib64 /usr/lib /usr/local/lib; do
		if [ -e "$dir/$so" ]; then
			printf '%s\n' "$dir/$so"
			return 0
		fi
	done
	return 1
}

# Fills BENCH_ALLOCS (names, in column order) and BENCH_LIB[name] (the
# library to preload; empty for glibc). $1 (optional): comma list to keep.
# A missing peer is reported and left out.
declare -A BENCH_LIB
BENCH_ALLOCS=()
bench_find_allocators() {
	local only=",${1:-},"
	local name so pkg lib
	bench_want() { [ "$only" = ",," ] || [[ "$only" == *",$1,"* ]]; }
	if bench_want glibc; then
		BENCH_ALLOCS+=(glibc)
		BENCH_LIB[glibc]=""
	fi
	if bench_want basemalloc; then
		lib=${BENCH_BASEMALLOC:-$BENCH_ROOT/libbasemalloc.so}
		if [ -e "$lib" ]; then
			BENCH_ALLOCS+=(basemalloc)
			BENCH_LIB[basemalloc]=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
		elif [ -n "${BENCH_BASEMALLOC:-}" ]; then
			bench_say "bench: basemalloc: $lib (BENCH_BASEMALLOC) does not exist; running without it"
		else
			bench_say "bench: basemalloc: ./libbasemalloc.so is not built (run \`make\`); running without it"
		fi
	fi
	bench_find_profilers "$only"
	for spec in jemalloc:libjemalloc.so.2:libjemalloc2 \
		mimalloc:libmimalloc.so.2:libmimalloc2.0 \
		tcmalloc:libtcmalloc_minimal.so.4:libtcmalloc-minimal4; do
		IFS=: read -r name so pkg <<<"$spec"
		bench_want "$name" || continue
		if lib=$(bench_find_lib "$so"); then
			BENCH_ALLOCS+=("$name")
			BENCH_LIB[$name]="$lib"
		else
			bench_say "bench: $name not found ($so, Debian package $pkg); \`make bench-deps\` installs it; running without it"
		fi
	done
}

# The hardened build and the heap profilers, as columns of their own, only
# when named in the list (never by default): basemalloc-hardened
# (build/libbasemalloc-hardened.so, `make hardened`, or
# BENCH_BASEMALLOC_HARDENED), basemalloc-prof (basemalloc with prof:true at the
# default rate), jemalloc-prof (jemalloc with prof:true, its default rate is
# the same 512 KiB), heaptrack (glibc's malloc under Debian's heaptrack, which
# records every call). bench_env_for gives each its environment or wrapper.
bench_find_profilers() {
	local only=$1 lib
	if [[ "$only" == *",basemalloc-prof,"* ]]; then
		lib=${BENCH_BASEMALLOC:-$BENCH_ROOT/libbasemalloc.so}
		if [ -e "$lib" ]; then
			BENCH_ALLOCS+=(basemalloc-prof)
			BENCH_LIB[basemalloc-prof]=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
		fi
	fi
	if [[ "$only" == *",basemalloc-hardened,"* ]]; then
		lib=${BENCH_BASEMALLOC_HARDENED:-$BENCH_ROOT/build/libbasemalloc-hardened.so}
		if [ -e "$lib" ]; then
			BENCH_ALLOCS+=(basemalloc-hardened)
			BENCH_LIB[basemalloc-hardened]=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
		else
			bench_say "bench: basemalloc-hardened: $lib is not built (run \`make hardened\`); running without it"
		fi
	fi
	if [[ "$only" == *",jemalloc-prof,"* ]] && lib=$(bench_find_lib libjemalloc.so.2); then
		BENCH_ALLOCS+=(jemalloc-prof)
		BENCH_LIB[jemalloc-prof]=$lib
	fi
	if [[ "$only" == *",heaptrack,"* ]]; then
		if command -v heaptrack >/dev/null; then
			BENCH_ALLOCS+=(heaptrack)
			BENCH_LIB[heaptrack]=""
		else
			bench_say "bench: heaptrack not found (Debian package heaptrack; \`make bench-deps\` installs it)"
		fi
	fi
}

# bench_env_for ALLOC CMD...: sets BENCH_CMD to CMD with the allocator's
# environment (after CMD's own VAR=VALUE words) or wrapper (heaptrack).
bench_env_for() {
	local a=$1
	shift
	BENCH_CMD=()
	while [ $# -gt 0 ] && [[ "$1" == [A-Za-z_]*=* ]]; do
		BENCH_CMD+=("$1")
		shift
	done
	case $a in
	basemalloc-prof) BENCH_CMD+=(BASEMALLOC_CONF=prof:true,prof_final:false) ;;
	jemalloc-prof) BENCH_CMD+=(MALLOC_CONF=prof:true,prof_final:false) ;;
	heaptrack) BENCH_CMD+=(heaptrack -o "$BENCH_BUILD/heaptrack.out") ;;
	esac
	BENCH_CMD+=("$@")
}

# Drops allocators that cannot run a trivial program (a crash at start-up
# would otherwise fail every workload slowly).
bench_check_allocators() {
	local keep=() a
	for a in "${BENCH_ALLOCS[@]}"; do
		if [ -z "${BENCH_LIB[$a]}" ] ||
			LD_PRELOAD="${BENCH_LIB[$a]}" /bin/sh -c 'exit 0' >/dev/null 2>&1; then
			keep+=("$a")
		else
			bench_say "bench: $a (${BENCH_LIB[$a]}) cannot run /bin/sh -c 'exit 0'; running without it"
		fi
	done
	BENCH_ALLOCS=("${keep[@]}")
}

# True when the program links an allocator of its own (then the glibc column
# needs the shim to really measure glibc).
bench_links_allocator() {
	local path
	path=$(command -v "$1" 2>/dev/null) || return 1
	ldd "$path" 2>/dev/null | grep -qE 'lib(jemalloc|tcmalloc|mimalloc)'
}

# Sets BENCH_PRELOAD to the LD_PRELOAD value for allocator $1; $2 = 1 adds
# bmmeta.so under basemalloc, $3 = 1 uses the glibc shim for the glibc column.
bench_preload_for() {
	local a=$1 meta=${2:-0} shim=${3:-0}
	BENCH_PRELOAD=${BENCH_LIB[$a]}
	if [ "$a" = glibc ]; then
		[ "$shim" = 1 ] && BENCH_PRELOAD="$BENCH_BUILD/glibc-shim.so"
	elif [ "$a" = basemalloc ] && [ "$meta" = 1 ]; then
		BENCH_PRELOAD="$BENCH_PRELOAD:$BENCH_BUILD/bmmeta.so"
	fi
	return 0
}

# bench_progress TEXT: one progress line on stderr (overwritten on a tty).
bench_progress() {
	if [ -t 2 ]; then
		printf '\r\033[K%s' "$*" >&2
	else
		printf '%s\n' "$*" >&2
	fi
}
bench_progress_done() { [ -t 2 ] && printf '\r\033[K' >&2; return 0; }

# bench_measure LIST RUN WORKLOAD ALLOC PRELOAD TIMEOUT RSSFILE LOGBASE DRIVER -- CMD...
# Runs CMD under measure (VAR=VALUE words before CMD go to its environment),
# keeps its stdout/stderr in LOGBASE.out/.err and measure's figures in
# LOGBASE.res, adds the run to LIST (bench_csv turns LIST into the CSV) and
# sets BENCH_STATUS (exit:0 when it went well). RSSFILE and DRIVER may be
# empty. No other process is started: on a slow-forking machine that is what
# a short run's overhead is made of.
bench_measure() {
	local list=$1 run=$2 wl=$3 alloc=$4 preload=$5 timeout=$6 rssfile=$7 log=$8 driver=$9
	shift 10
	local res="$log.res" args=() k v
	args=(-o "$res" -t "$timeout")
	[ -n "$rssfile" ] && args+=(-r "$rssfile")
	[ -n "$preload" ] && args+=(-p "$preload")
	[ -n "$driver" ] && args+=(-d "$driver")
	while [ $# -gt 0 ] && [[ "$1" == [A-Za-z_]*=* ]]; do
		args+=(-e "$1")
		shift
	done
	rm -f "$res"
	"$BENCH_BUILD/measure" "${args[@]}" -- "$@" >"$log.out" 2>"$log.err" </dev/null
	BENCH_STATUS=measure-failed
	if [ -s "$res" ]; then
		while IFS='=' read -r k v; do
			[ "$k" = status ] && BENCH_STATUS=$v
			[ "$k" = driver_status ] && [ "$v" != exit:0 ] &&
				[ "$BENCH_STATUS" = exit:0 ] && BENCH_STATUS="driver-$v"
		done <"$res"
	else
		printf 'measure: no result\n' >>"$log.err"
	fi
	printf '%s\t%s\t%s\t%s\n' "$run" "$wl" "$alloc" "$log" >>"$list"
}

# bench_csv LIST CSV: writes the raw CSV of every run in LIST.
bench_csv() {
	printf '%s\n' "$BENCH_CSV_HEADER" >"$2"
	if ! awk -f "$BENCH_DIR/rows.awk" "$1" >>"$2"; then
		bench_say "bench: cannot build $2 from $1"
		return 1
	fi
}

# bench_report CSV OUTDIR TITLE [ANYEXIT]: prints the tables and writes the
# summary files; ANYEXIT=1 counts a non-zero exit code as a completed run.
bench_report() {
	local csv=$1 outdir=$2 title=$3 anyexit=${4:-0}
	awk -F, -v allocs="${BENCH_ALLOCS[*]}" -v outdir="$outdir" -v title="$title" \
		-v anyexit="$anyexit" -f "$BENCH_DIR/report.awk" "$csv"
}

# A fixed colour per allocator, the same in every chart.
bench_color() {
	case $1 in
	glibc) echo '#555555' ;;
	basemalloc) echo '#d62728' ;;
	jemalloc) echo '#1f77b4' ;;
	basemalloc-prof) echo '#9467bd' ;;
	basemalloc-hardened) echo '#e377c2' ;;
	jemalloc-prof) echo '#17becf' ;;
	heaptrack) echo '#8c564b' ;;
	mimalloc) echo '#2ca02c' ;;
	tcmalloc) echo '#ff7f0e' ;;
	*) echo '#9467bd' ;;
	esac
}

# bench_rss_chart PNG TITLE ALLOC=FILE...: RSS over time, one line per allocator.
bench_rss_chart() {
	local png=$1 title=$2 plot="" item a f
	shift 2
	for item in "$@"; do
		a=${item%%=*}
		f=${item#*=}
		[ -s "$f" ] || continue
		[ -n "$plot" ] && plot="$plot, "
		plot="$plot'$f' using (\$1/1000.0):(\$2/1024.0) with lines lw 2 lc rgb '$(bench_color "$a")' title '$a'"
	done
	[ -n "$plot" ] || return 0
	"$BENCH_GNUPLOT" <<EOF 2>>"${png%.png}.gnuplot.log"
set terminal pngcairo size 1000,520 noenhanced font ",11"
set output '$png'
set title '$title'
set xlabel 'seconds since start'
set ylabel 'RSS of the process tree (MiB)'
set grid
set key outside right top
set yrange [0:*]
plot $plot
EOF
}

# bench_ratio_chart PNG DATFILE_TIME DATFILE_RSS: grouped bars per workload,
# one bar per allocator (not glibc: it is the line at 1).
bench_ratio_chart() {
	local png=$1 dtime=$2 drss=$3 names i=2 ptime="" prss="" a
	read -r -a names <<<"$(head -n 1 "$dtime")"
	[ "${#names[@]}" -ge 2 ] || return 0
	for a in "${names[@]:1}"; do
		ptime="$ptime'$dtime' using $i:xtic(1) lc rgb '$(bench_color "$a")' title '$a', "
		prss="$prss'$drss' using $i:xtic(1) lc rgb '$(bench_color "$a")' title '$a', "
		i=$((i + 1))
	done
	"$BENCH_GNUPLOT" <<EOF 2>>"${png%.png}.gnuplot.log"
set terminal pngcairo size 1400,900 noenhanced font ",10"
set output '$png'
set multiplot layout 2,1
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set grid ytics
set xtics rotate by -35 scale 0
set key outside right top vertical
set datafile missing '-'
set ylabel 'ratio to glibc (log scale)'
set title 'Wall time relative to glibc (median; lower is better; glibc = 1)'
plot ${ptime}1 with lines lc rgb 'black' notitle
set title 'Peak RSS relative to glibc (median; lower is better; glibc = 1)'
plot ${prss}1 with lines lc rgb 'black' notitle
unset multiplot
EOF
}
