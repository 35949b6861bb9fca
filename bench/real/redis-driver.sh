#!/bin/sh
# Drives the redis-server workload for bench/run: waits until the server on
# 127.0.0.1:$1 answers, then runs redis-benchmark passes scaled by $2 that
# first fill the keyspace with small values and then overwrite it with larger
# ones (so the server's memory fragments), plus list, hash and set traffic.
# Loopback only. Prints `keys=N` (not a checksum: redis-benchmark picks
# random keys, so the count varies a little from run to run).
port=$1
scale=${2:-1}
n=$(awk -v s="$scale" 'BEGIN { v = int(60000 * s); if (v < 2000) v = 2000; print v }')
i=0
until redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 500 ]; then
		echo "redis-driver: server on port $port never answered" >&2
		exit 1
	fi
	sleep 0.01
done
rb() {
	redis-benchmark -h 127.0.0.1 -p "$port" -q -c 20 -P 16 -n "$n" "$@" >/dev/null || exit 1
}
rb -r 100000 -d 64 -t set,lpush,hset,sadd
rb -r 100000 -d 600 -t set,get
rb -r 100000 -d 200 -t set,lpop,rpop
keys=$(redis-cli -h 127.0.0.1 -p "$port" dbsize)
redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
echo "keys=$keys"
