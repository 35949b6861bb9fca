# test/lib/limit.sh: builds test/lib/tlimit.c into test/build/lib/tlimit when
# sourced and sets T_LIMIT to it. "$T_LIMIT" SECS CMD [ARGS...] (or the
# function t_limit) runs CMD in a process group of its own,
# the whole group killed after SECS seconds (exit 124 and a line on stderr),
# and everything CMD left running killed when it ends, so an orphan holding
# an output pipe cannot hang a runner. Sourced by test/run, test/unit/run
# and test/lib/common.sh.

t_limit_bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/build/lib/tlimit

t_limit_build() {
	local src=${t_limit_bin%/test/build/lib/tlimit}/test/lib/tlimit.c
	[ -x "$t_limit_bin" ] && [ "$t_limit_bin" -nt "$src" ] && return 0
	mkdir -p "$(dirname "$t_limit_bin")"
	env -u LD_PRELOAD gcc -O1 -std=gnu11 -Wall -Wextra -o "$t_limit_bin.$$" "$src" &&
		mv -f "$t_limit_bin.$$" "$t_limit_bin"
}

t_limit() {
	t_limit_build || { echo "t_limit: cannot build $t_limit_bin" >&2; return 125; }
	"$t_limit_bin" "$@"
}

T_LIMIT=$t_limit_bin
t_limit_build || echo "test/lib/limit.sh: cannot build $T_LIMIT" >&2

# t_status RC: how a failing verdict names an exit status from tlimit.
t_status() {
	case $1 in
	124) echo "timed out (hang or deadlock; killed with its process group)" ;;
	*) echo "exited with status $1" ;;
	esac
}
