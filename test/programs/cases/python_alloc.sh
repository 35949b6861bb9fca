# python3: an allocation-heavy script (dicts, lists, sets, json, re, strings,
# classes, sorting); prints digests of what it built.
cd "$1" || exit 1
python3 - <<'PY'
import hashlib, json, re, random
rng = random.Random(12345)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12)))
         for _ in range(80000)]
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
print("distinct", len(counts), "top", top[:5])
nested = [{"id": i, "tags": [w for w in words[i:i + 5]], "score": i * 0.5,
           "child": {"k": str(i), "v": list(range(i % 17))}} for i in range(20000)]
blob = json.dumps(nested, sort_keys=True)
back = json.loads(blob)
assert back == nested
print("json", len(blob), hashlib.sha256(blob.encode()).hexdigest())
text = " ".join(words)
pat = re.compile(r"\b([aeiou][a-z]{2,5})\b")
found = pat.findall(text)
print("re", len(found), hashlib.md5("|".join(found).encode()).hexdigest())
subbed = re.sub(r"(\w)(\w*)", lambda m: m.group(2) + m.group(1), text[:500000])
print("sub", hashlib.md5(subbed.encode()).hexdigest())
class Node:
    __slots__ = ("key", "left", "right")
    def __init__(self, key):
        self.key, self.left, self.right = key, None, None
def insert(root, key):
    node = root
    while True:
        side = "left" if key < node.key else "right"
        nxt = getattr(node, side)
        if nxt is None:
            setattr(node, side, Node(key))
            return
        node = nxt
root = Node(rng.random())
for _ in range(40000):
    insert(root, rng.random())
def depth(n):
    best, stack = 0, [(n, 1)]
    while stack:
        n, d = stack.pop()
        if n:
            best = max(best, d)
            stack.append((n.left, d + 1)); stack.append((n.right, d + 1))
    return best
print("tree depth", depth(root))
s = set()
for i in range(100000):
    s.add((i * 7919) % 100003)
    if i % 3 == 0:
        s.discard((i * 31) % 100003)
print("set", len(s), sum(s))
big = ["x" * (i % 5000) for i in range(20000)]
print("strings", sum(map(len, big)), len("".join(big)))
PY
