# gcc: compile a generated C file (no -g, fixed random seed, so the object is
# the same byte for byte), link and run it.
cd "$1" || exit 1
{
	echo '#include <stdio.h>'
	echo '#include <stdlib.h>'
	for i in $(seq 1 300); do
		echo "static int f$i(int x) { int a[$((i % 13 + 3))]; for (int j = 0; j < $((i % 13 + 3)); j++) a[j] = x * j + $i; return a[$((i % 13 + 2))] ^ (x >> $((i % 5))); }"
	done
	echo 'int main(void) { long s = 0;'
	for i in $(seq 1 300); do echo "s += f$i($i);"; done
	echo 'printf("%ld\n", s); return 0; }'
} >prog.c
gcc -O2 -frandom-seed=1 -c prog.c -o prog.o || exit 1
md5sum <prog.o
gcc -E prog.c | md5sum
gcc -o prog prog.o || exit 1
./prog
