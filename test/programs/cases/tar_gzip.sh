# tar + gzip: a generated tree archived reproducibly, compressed, checked,
# extracted elsewhere and compared.
cd "$1" || exit 1
for d in $(seq 1 10); do mkdir -p "src/dir$d/sub"; done
awk 'BEGIN {
	for (d = 1; d <= 10; d++) for (f = 1; f <= 30; f++) {
		out = "src/dir" d "/file" f
		for (i = d * f; i <= d * f * 20 + 500; i++) print i >out
		close(out)
		out = "src/dir" d "/sub/z" f
		s = sprintf("%c", 65 + f % 26); line = ""
		for (i = 0; i < 60; i++) line = line s
		for (i = 0; i < d * f; i++) print line >out
		close(out)
	}
}' || exit 1
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf a.tar src || exit 1
md5sum <a.tar
gzip -9 -n -c a.tar >a.tar.gz || exit 1
md5sum <a.tar.gz
gzip -t a.tar.gz && echo "gzip -t ok"
mkdir out && tar -xzf a.tar.gz -C out || exit 1
diff -r src out/src && echo "trees identical"
tar -tzvf a.tar.gz | wc -l
