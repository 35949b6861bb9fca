#!/usr/bin/env bash
# redis.sh DIR: redis-server under LD_PRELOAD=$BM_LIB (127.0.0.1, a free
# high port) through a heavy workload, its stored data checked at each step
# against what was written. Prints PASS/FAIL lines:
#   redis_load      BM_REDIS_KEYS (50,000) keys of 1 B..2 KiB read back exactly
#   redis_benchmark redis-benchmark (BM_REDIS_REQUESTS, 30,000 per test;
#                   50 clients, pipelined, random keys) exits 0
#   redis_intact    the loaded keys are unchanged after the benchmark
#   redis_rewrite   APPEND / SETRANGE / DEL on a third each, then all checked
#   redis_bgsave    BGSAVE (the server forks: a child of the preloaded
#                   process), restart on the dump, every key checked
#   redis_evict     maxmemory 64mb allkeys-lru: 120,000 more 1 KiB values
#                   evict instead of failing; used_memory stays bounded
# The whole run is bounded by a timeout; the server is killed on exit.
set -u
dir=$1
keys=${BM_REDIS_KEYS:-50000}
requests=${BM_REDIS_REQUESTS:-30000}
mkdir -p "$dir"
cd "$dir" || exit 1
rm -f dump.rdb ./*.txt ./*.log
server=
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; wait 2>/dev/null' EXIT

verdict() { if [ "$2" = 0 ]; then echo "PASS $1"; else echo "FAIL $1${3:+: $3}"; fi; }

start_server() {
	local try i
	for try in 1 2 3 4 5; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && continue
		env ${BM_LIB:+LD_PRELOAD=$BM_LIB} redis-server --bind 127.0.0.1 \
			--port "$port" --save '' --appendonly no --daemonize no \
			--dir "$dir" --dbfilename dump.rdb --logfile "$dir/redis.log" &
		server=$!
		for i in $(seq 1 100); do
			[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && return 0
			kill -0 "$server" 2>/dev/null || break
			sleep 0.1  # waiting for the server to listen, not for a race
		done
		kill -9 "$server" 2>/dev/null
		server=
	done
	return 1
}

stop_server() {
	cli shutdown nosave >/dev/null 2>&1
	wait "$server"
	local rc=$?
	server=
	return $rc
}

cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

# The value of key i, generation g: 1 B..2 KiB, derived from i and g.
# CMD set: the SET commands; get: the values, one a line.
gen_values() {
	awk -v n="$keys" -v g="$1" -v cmd="$2" 'BEGIN {
		for (j = 0; length(pool) < 4096; j++)
			pool = pool sprintf("%08x", (j * 2654435761) % 4294967296)
		for (i = 0; i < n; i++) {
			len = 1 + (i * 7919 + g * 131) % 2048
			v = substr(sprintf("%d:%d:", g, i) substr(pool, i % 2048 + 1, len), 1, len)
			if (cmd == "set") printf "SET k:%d %s\r\n", i, v
			else print v
		}
	}'
}

# The values after the rewrite step (from the generation-1 values).
rewritten() {
	awk '{ i = NR - 1
		if (i % 3 == 0) print $0 "+app" i
		else if (i % 3 == 1) print (length($0) >= 2 ? "XY" substr($0, 3) : "XY")
		else printf "new%0*d\n", i % 3000 + 1, i
	}'
}

# All values, in key order, as the server returns them (MGET of 500 keys a
# line: one round trip per line).
dump_values() {
	awk -v n="$keys" 'BEGIN { for (i = 0; i < n; i++)
		printf "%sk:%d%s", i % 500 ? " " : "MGET ", i, i % 500 == 499 || i == n - 1 ? "\n" : "" }' |
		cli 2>/dev/null
}

# check_all NAME EXPECTED-MD5 EXPECTED-CMD: the stored values match; on a
# mismatch the first differing line is shown.
check_all() {
	local sum
	sum=$(dump_values | md5sum)
	if [ "$sum" = "$2" ]; then
		verdict "$1" 0
	else
		dump_values >got.txt
		eval "$3" >expect.txt
		verdict "$1" 1 "$(cmp expect.txt got.txt 2>&1 | head -1)"
	fi
}

if ! start_server; then
	echo "FAIL redis: redis-server did not start"
	exit 1
fi
SECONDS=0
t0=0
phase() { echo "  # redis: $1 $((SECONDS - t0))s"; t0=$SECONDS; }
gen_values 1 set | cli --pipe >pipe.log 2>&1
sum1=$(gen_values 1 get | md5sum)
check_all redis_load "$sum1" "gen_values 1 get"
phase load

redis-benchmark -h 127.0.0.1 -p "$port" -n "$requests" -c 50 -P 16 -d 512 \
	-r 100000 -q -t set,get,incr,lpush,rpop,sadd,hset,spop,zadd,lrange_100,mset \
	>bench.log 2>&1
verdict redis_benchmark $? "$(tail -2 bench.log)"
check_all redis_intact "$sum1" "gen_values 1 get"
phase benchmark

# Rewrite: APPEND to every third key, SETRANGE every third + 1, DEL and SET
# again (a new size) every third + 2.
awk -v n="$keys" 'BEGIN { for (i = 0; i < n; i++) {
	if (i % 3 == 0) printf "APPEND k:%d +app%d\r\n", i, i
	else if (i % 3 == 1) printf "SETRANGE k:%d 0 XY\r\n", i
	else printf "DEL k:%d\r\nSET k:%d new%0*d\r\n", i, i, i % 3000 + 1, i
} }' | cli --pipe >pipe2.log 2>&1
sum2=$(gen_values 1 get | rewritten | md5sum)
check_all redis_rewrite "$sum2" "gen_values 1 get | rewritten"
phase rewrite

# BGSAVE forks the (preloaded) server; restart it on the dump.
cli bgsave >/dev/null
for i in $(seq 1 600); do
	[ "$(cli info persistence | tr -d '\r' | sed -n 's/^rdb_bgsave_in_progress://p')" = 0 ] && break
	sleep 0.1  # polling the save, not hiding a race
done
ok=$(cli info persistence | tr -d '\r' | sed -n 's/^rdb_last_bgsave_status://p')
stop_server
if [ "$ok" = ok ] && [ -s dump.rdb ] && start_server; then
	for i in $(seq 1 600); do
		[ "$(cli info persistence | tr -d '\r' | sed -n 's/^loading://p')" = 0 ] && break
		sleep 0.1
	done
	check_all redis_bgsave "$sum2" "gen_values 1 get | rewritten"
else
	verdict redis_bgsave 1 "bgsave status '$ok', or no restart"
	start_server || { echo "FAIL redis: no restart"; exit 1; }
fi

phase bgsave
cli config set maxmemory 64mb >/dev/null
cli config set maxmemory-policy allkeys-lru >/dev/null
awk 'BEGIN { v = sprintf("%01024d", 7); for (i = 0; i < 120000; i++) printf "SET e:%d %s\r\n", i, v }' |
	cli --pipe >pipe3.log 2>&1
pipe_rc=$?
used=$(cli info memory | tr -d '\r' | sed -n 's/^used_memory://p')
evicted=$(cli info stats | tr -d '\r' | sed -n 's/^evicted_keys://p')
rss=$(cli info memory | tr -d '\r' | sed -n 's/^used_memory_rss://p')
echo "  # redis: evicted ${evicted:-?} keys; used_memory ${used:-?}, used_memory_rss ${rss:-?}; ${SECONDS}s"
[ "$pipe_rc" -eq 0 ] && [ "${evicted:-0}" -gt 0 ] && [ "${used:-999999999}" -le $((80 << 20)) ]
verdict redis_evict $? "pipe exit $pipe_rc, evicted ${evicted:-?}, used ${used:-?}"
stop_server
rc=$?
[ "$rc" -eq 0 ] || echo "FAIL redis_exit: the server exited with status $rc"
