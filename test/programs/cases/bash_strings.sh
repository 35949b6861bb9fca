# bash: heavy string work in the shell itself (expansions, arrays,
# associative arrays, substitutions, printf -v, read loops).
cd "$1" || exit 1
declare -A seen
s=""
x=1
for ((i = 0; i < 10000; i++)); do
	x=$(( (x * 69069 + 1) % 2147483648 ))
	w=${x:0:3}-$((x % 97))
	seen[$w]=$(( ${seen[$w]:-0} + 1 ))
	s+="$w "
done
echo "distinct ${#seen[@]} length ${#s}"
t=${s//1/one}
echo "replaced ${#t}"
u=${t^^}
echo "upper ${u:100:40}"
read -r -a arr <<<"$s"
echo "words ${#arr[@]} first ${arr[0]} last ${arr[-1]}"
sorted=$(printf '%s\n' "${!seen[@]}" | LC_ALL=C sort | head -3 | tr '\n' ' ')
echo "keys $sorted"
out=""
for ((i = 0; i < 5000; i++)); do
	printf -v item '%05d:%s;' "$i" "${arr[i]}"
	out+=$item
done
echo "printf ${#out} ${out:0:30}"
lines=0
while IFS=: read -r a b; do lines=$((lines + ${#b})); done < <(tr ';' '\n' <<<"$out")
echo "read $lines"
big=$(printf 'abc%.0s' $(seq 1 10000))
echo "big ${#big} ${big//abc/x}" | md5sum
