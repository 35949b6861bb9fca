# redis-server on 127.0.0.1 (a free high port), filled and read back with
# redis-cli; redis-benchmark (small, -q) must exit 0. The server is killed on
# exit.
cd "$1" || exit 1
server=
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; wait 2>/dev/null' EXIT
for try in 1 2 3 4 5; do
	port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
	redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && continue
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--daemonize no --dir "$1" --logfile "$1/redis.log" &
	server=$!
	for i in $(seq 1 100); do
		[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
		kill -0 "$server" 2>/dev/null || break
		sleep 0.1
	done
	[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
	kill -9 "$server" 2>/dev/null
	server=
done
[ -n "$server" ] || { echo "redis-server did not start"; exit 1; }
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
awk 'BEGIN { for (i = 0; i < 20000; i++) {
	printf "SET key:%d %s\r\n", i, sprintf("value-%d-%0" (i % 200 + 1) "d", i, 0)
	printf "HSET h:%d f%d %d\r\n", i % 100, i, i * 3
	printf "RPUSH list:%d %d\r\n", i % 10, i
	printf "SADD set:%d m%d\r\n", i % 7, i % 1000
} }' | cli --pipe >pipe.log || exit 1
cli dbsize
cli get key:12345
cli get key:199 | md5sum
cli hlen h:42
cli hget h:42 f1042
cli llen list:3
cli lrange list:3 100 104
cli scard set:5
cli incrby counter 41
cli incr counter
for i in $(seq 0 50 19999); do echo "GET key:$i"; done | cli | md5sum
cli del list:0 list:1 >/dev/null
cli --scan --pattern 'list:*' | sort
cli memory usage key:10 >/dev/null || echo "memory usage failed"
redis-benchmark -h 127.0.0.1 -p "$port" -n 2000 -c 4 -q -t set,get,lpush,lpop,incr >bench.log 2>&1
echo "redis-benchmark exit $?"
cli flushall
cli dbsize
cli shutdown nosave >/dev/null 2>&1
wait "$server"
echo "server exit $?"
server=
