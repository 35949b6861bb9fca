# awk (gawk when installed, else the system awk): associative arrays, split,
# gsub, sprintf over generated data.
cd "$1" || exit 1
AWK=awk
command -v gawk >/dev/null && AWK=gawk
$AWK 'BEGIN {
	x = 7
	for (i = 0; i < 300000; i++) {
		x = (x * 69069 + 1) % 2147483648
		w = sprintf("%c%c%c", 97 + x % 26, 97 + int(x / 26) % 26, 97 + int(x / 676) % 5)
		count[w]++
		line = line w " "
		if (length(line) > 5000) { n += split(line, parts, " "); gsub(/a/, "AA", line); total += length(line); line = "" }
	}
	for (w in count) { distinct++; if (count[w] > best) { best = count[w] } }
	print distinct, best, n, total
	for (i = 0; i < 100000; i++) { key = "k" (i % 5000); agg[key] = agg[key] sprintf("%d,", i % 10) }
	len = 0; for (k in agg) len += length(agg[k]); print len
}'
