#!/usr/bin/env python3
"""check_report.py: validate a basemalloc report (issue 6) for test/stats/run.

  check_report.py json FILE [--no-blocks-classes]  the JSON report parses
                                                   and its figures add up
  check_report.py xml FILE                          malloc_info's XML parses in
                                                    glibc's shape

Prints one line per problem and exits 1 if there is any; silent on success.
The JSON must come from a quiet process (nothing allocating while the report
is written), so that the totals and the per-arena sections agree exactly.
"""
import json
import sys
import xml.etree.ElementTree as ET

problems = []


def expect(cond, what):
    if not cond:
        problems.append(what)


def check_base(name, base, with_blocks):
    for key in ("allocated", "resident", "mapped", "n_thp", "blocks"):
        expect(isinstance(base.get(key), int), f"{name}: {key} missing")
    expect(base["allocated"] <= base["resident"] <= base["mapped"],
           f"{name}: allocated <= resident <= mapped fails: {base}")
    if not with_blocks:
        expect("block_list" not in base, f"{name}: block_list left in")
        return
    blocks = base["block_list"]
    expect(len(blocks) == base["blocks"],
           f"{name}: {len(blocks)} blocks listed, {base['blocks']} counted")
    expect(sum(b["size"] for b in blocks) == base["mapped"],
           f"{name}: block sizes do not add up to mapped")
    expect(sum(b["used"] for b in blocks) == base["allocated"],
           f"{name}: block use does not add up to allocated")
    expect(sum(b["resident"] for b in blocks) == base["resident"],
           f"{name}: block resident does not add up to resident")
    expect(sum(b["size"] for b in blocks if b["thp"]) == base["n_thp"],
           f"{name}: huge-page blocks do not add up to n_thp")
    for b in blocks:
        expect(int(b["address"], 16) % (2 << 20) == 0,
               f"{name}: block {b['address']} not 2 MiB aligned")


def check_json(path, left_out):
    """left_out: the report was made with opts "bc" (no blocks, classes)."""
    with open(path) as f:
        doc = json.load(f)
    d = doc["basemalloc"]
    t, arenas, procs = d["totals"], d["arenas"], d["process"]
    expect(len(arenas) == procs["narenas"],
           f"{len(arenas)} arenas listed, {procs['narenas']} created")
    for key in ("allocated", "active", "pages_mapped", "dirty", "purged"):
        expect(sum(a[key] for a in arenas) == t[key],
               f"arenas' {key} do not add up to the total")
    for part in ("small", "large", "huge"):
        for key in t[part]:
            expect(sum(a[part][key] for a in arenas) == t[part][key],
                   f"arenas' {part}.{key} do not add up")
    expect(t["allocated"] == t["small"]["allocated"] + t["large"]["bytes"]
           + t["huge"]["bytes"], "allocated != small + large + huge")
    expect(t["mapped"] == t["pages_mapped"] + t["huge"]["bytes"]
           + t["base"]["mapped"] + t["rtree_mapped"],
           "mapped != chunks + huge + bases + page map")
    expect(t["mapped"] == procs["os_mapped"],
           f"mapped {t['mapped']} != os layer {procs['os_mapped']}")
    expect(t["metadata"] == t["base"]["allocated"], "metadata != base")
    check_base("b0", d["b0"], not left_out)
    for a in arenas:
        check_base(f"arena {a['index']}", a["base"], not left_out)
    for key in ("allocated", "mapped", "blocks", "n_thp", "resident"):
        total = d["b0"][key] + sum(a["base"][key] for a in arenas)
        expect(total == t["base"][key], f"bases' {key} do not add up")
    bins = d["bins"]
    if left_out:
        expect(bins == [], "size classes left in")
        return
    expect(len(bins) == 44, f"{len(bins)} size classes")
    expect(sum(b["live"] for b in bins) == t["small"]["live"],
           "classes' live objects do not add up")
    for b in bins:
        expect(0 <= b["utilization"] <= 1 and b["live"] <= b["capacity"],
               f"class {b['class']}: utilization {b['utilization']}")


def check_xml(path):
    root = ET.parse(path).getroot()
    expect(root.tag == "malloc" and root.get("version") == "1",
           f"root <{root.tag} version={root.get('version')}>")
    heaps = root.findall("heap")
    expect(len(heaps) >= 1, "no <heap>")
    for h in heaps:
        expect(h.find("sizes") is not None, f"heap {h.get('nr')}: no sizes")
        kinds = [e.get("type") for e in h.findall("system")]
        expect(kinds == ["current", "max"], f"heap system {kinds}")
    kinds = [e.get("type") for e in root.findall("total")]
    expect(kinds == ["fast", "rest", "mmap"], f"totals {kinds}")
    expect(len(root.findall("aspace")) == 2, "aspace elements")


def main():
    kind, path = sys.argv[1], sys.argv[2]
    try:
        if kind == "json":
            check_json(path, "--no-blocks-classes" in sys.argv)
        else:
            check_xml(path)
    except (OSError, ValueError, KeyError, TypeError, ET.ParseError) as e:
        problems.append(f"{path}: {type(e).__name__}: {e}")
    for p in problems:
        print(f"  # {p}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
