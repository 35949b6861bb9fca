#!/usr/bin/env bash
# cpython.sh OUTDIR: CPython's own regression suite (Debian's
# libpython3.11-testsuite for /usr/bin/python3.11) on allocation-heavy
# modules, once under glibc and once with LD_PRELOAD=$BM_LIB (every worker
# process it starts inherits it), both at once (much of the suite waits on
# threads and subprocesses). Each run writes --junit-xml; cpython_compare.py
# then prints one PASS/FAIL line per module: the same outcome for every
# test case. BM_CPYTHON_TESTS overrides the module list, BM_CPYTHON_JOBS the
# workers per run (2). test_sqlite3 is not in Debian's testsuite package.
set -u
out=$1
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3.11
mods=${BM_CPYTHON_TESTS:-"test_dict test_list test_set test_bytes test_unicode
test_json test_re test_pickle test_gc test_threading test_weakref
test_collections test_array test_memoryview test_deque test_heapq test_struct
test_ordered_dict test_codecs test_xml_etree_c test_functools test_copy
test_userdict test_userlist test_dictviews test_sort test_csv"}
jobs=${BM_CPYTHON_JOBS:-2}

if [ ! -x "$py" ] || [ ! -f /usr/lib/python3.11/test/libregrtest/main.py ]; then
	echo "FAIL cpython: $py or its regression suite (libpython3.11-testsuite) is missing"
	exit 1
fi
rm -rf "$out"
mkdir -p "$out/glibc" "$out/bm"

# run_suite DIR PRELOAD: regrtest in DIR (its temp files go there); SIGINT
# back to default (a background job ignores it, which test_threading sees).
run_suite() {
	local dir=$1 lib=$2
	(cd "$dir" && env -u LD_PRELOAD --default-signal=INT ${lib:+LD_PRELOAD=$lib} \
		timeout -s KILL 900 "$py" -m test -j"$jobs" --junit-xml "$dir/result.xml" \
		$mods >"$dir/log" 2>&1)
	echo $? >"$dir/status"
}

SECONDS=0
run_suite "$out/glibc" "" &
run_suite "$out/bm" "$BM_LIB" &
wait
echo "  # cpython: ${SECONDS}s for both runs; exit status glibc $(cat "$out/glibc/status"), basemalloc $(cat "$out/bm/status")"
for r in glibc bm; do
	if [ "$(cat "$out/$r/status")" = 137 ]; then
		echo "FAIL cpython: the $r run timed out (log: $out/$r/log)"
		exit 1
	fi
done
env -u LD_PRELOAD "$py" "$here/cpython_compare.py" "$out/glibc/result.xml" \
	"$out/bm/result.xml" "$py" "$BM_LIB"
