# C++: test/programs/stl.cc built with g++ (itself under the preload) and run:
# map, unordered_map, vector, string, shared_ptr, threads.
cd "$1" || exit 1
g++ -O1 -std=c++17 -pthread -o stl "$BM_TOP/test/programs/stl.cc" || exit 1
./stl
