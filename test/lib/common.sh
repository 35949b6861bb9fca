# test/lib/common.sh: helpers shared by the LD_PRELOAD-level test runners
# (test/api, test/bad, test/stress, test/programs). Source it from a runner:
#   . "$(dirname "$0")/../lib/common.sh"
# It sets: top (repo root), BM_LIB (the library to preload; empty = run under
# glibc), BM_TEST_PRELOAD (1 when BM_LIB is set, exported to test programs),
# and counters t_pass / t_fail kept by t_pass / t_fail / t_summary.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$top/test/lib/limit.sh"
BM_LIB=${BM_LIB-"$top/libbasemalloc.so"}
if [ -n "$BM_LIB" ]; then
	case $BM_LIB in /*) ;; *) BM_LIB=$PWD/$BM_LIB ;; esac
	export BM_TEST_PRELOAD=1
else
	export BM_TEST_PRELOAD=0
fi
export BM_LIB

CFLAGS_TEST="-O1 -g -pthread -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
-I$top/test/lib"
CXXFLAGS_TEST="-O1 -g -pthread -std=gnu++17 -D_GNU_SOURCE -Wall -Wextra \
-fno-builtin-malloc -fno-builtin-free -fno-allocation-dce -I$top/test/lib"

if [ "${CI:-}" = true ]; then
	CFLAGS_TEST="$CFLAGS_TEST -Werror"
	CXXFLAGS_TEST="$CXXFLAGS_TEST -Werror"
fi

t_npass=0
t_nfail=0

t_pass() { t_npass=$((t_npass + 1)); echo "PASS $*"; }
t_fail() { t_nfail=$((t_nfail + 1)); echo "FAIL $*"; }

# Print the final line and exit non-zero if anything failed.
t_summary() {
	echo "$t_npass passed, $t_nfail failed"
	[ "$t_nfail" -eq 0 ]
}

# The runner cannot test anything if the library is missing: one failure.
t_require_lib() {
	if [ -n "$BM_LIB" ] && [ ! -f "$BM_LIB" ]; then
		t_fail "library $BM_LIB does not exist (run make, or BM_LIB= for glibc)"
		t_summary
		exit 1
	fi
}

# Run a command with the library preloaded (or plainly when BM_LIB is empty).
t_preload() {
	if [ -n "$BM_LIB" ]; then
		LD_PRELOAD=$BM_LIB "$@"
	else
		env -u LD_PRELOAD "$@"
	fi
}

# t_compile OUT SRC... : compile C (or C++ when the first source ends in .cc)
# into OUT; on error print the compiler output and return 1.
t_compile() {
	local out=$1; shift
	local log=$out.log
	mkdir -p "$(dirname "$out")"
	case $1 in
	*.cc) g++ $CXXFLAGS_TEST -o "$out" "$@" -ldl >"$log" 2>&1 ;;
	*) gcc $CFLAGS_TEST -o "$out" "$@" -ldl >"$log" 2>&1 ;;
	esac || { cat "$log"; return 1; }
}

# t_run_checks NAME BIN [ARGS...]: run a program built on test/lib/check.h
# (under the preload, with a watchdog), copy its output, count its PASS and
# FAIL lines; a crash, a hang or an unexpected exit status is one more failure.
t_run_checks() {
	local name=$1; shift
	local out rc=0 np nf nna
	out=$(t_preload "$T_LIMIT" "${T_TIMEOUT:-600}" "$@" 2>&1) || rc=$?
	printf '%s\n' "$out"
	np=$(printf '%s\n' "$out" | grep -c '^PASS ' || true)
	nf=$(printf '%s\n' "$out" | grep -c '^FAIL ' || true)
	nna=$(printf '%s\n' "$out" | grep -c '^N/A ' || true)
	t_npass=$((t_npass + np))
	t_nfail=$((t_nfail + nf))
	if printf '%s\n' "$out" | grep -q 'cannot be preloaded'; then
		t_fail "$name: the library could not be preloaded"
	elif [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		t_fail "$name: $(t_status "$rc") without reporting a failed check"
	elif [ "$rc" -eq 0 ] && [ "$nf" -ne 0 ]; then
		t_fail "$name: reported failures but exited 0"
	elif [ "$np" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$nna" -eq 0 ]; then
		t_fail "$name: ran no check"
	fi
}
