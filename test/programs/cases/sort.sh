# sort: 2,000,000 generated lines (fixed seed), sorted in memory and with
# a small buffer (temporary files, merging).
cd "$1" || exit 1
awk 'BEGIN { x = 12345; for (i = 0; i < 2000000; i++) { x = (x * 69069 + 1) % 2147483648; printf "%d %c%c%c %d\n", x, 97 + x % 26, 97 + int(x / 26) % 26, 97 + int(x / 676) % 26, i } }' >in.txt
export LC_ALL=C
sort in.txt | md5sum
sort -S 8M -k2,2 -k1,1n in.txt | tee sorted.txt | md5sum
cut -d' ' -f2 sorted.txt | uniq -c | sort -rn | head -3
