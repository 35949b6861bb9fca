"""cpython_compare.py GLIBC.xml BM.xml PYTHON LIB: compare two regrtest
--junit-xml results (glibc, then basemalloc) test case by test case, and
print one "PASS cpython MODULE (N cases)" or "FAIL cpython MODULE: ..." line
per test module. A test case whose outcome differs is run again alone
(python -m unittest ID) without and with LD_PRELOAD=LIB: if the two reruns
agree the difference was the test's own flakiness under load (reported, not
failed); if they disagree again the module fails. Exits 1 if any module
failed. Run it with a python that is not preloaded."""
import collections
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

RERUN_MAX = 20


def outcomes(path):
    """Map each test case id to ok, skipped, failure or error."""
    root = ET.parse(path).getroot()
    result = {}
    for case in root.iter("testcase"):
        name = case.get("name") or ""
        cls = case.get("classname")
        case_id = name if cls in (None, "", "None") else cls + "." + name
        state = "ok"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                state = child.tag
        result[case_id] = state
    return result


def rerun(python, lib, case_id):
    """Exit statuses of the test case run alone without / with the preload."""
    statuses = []
    for preload in (False, True):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if preload:
            env["LD_PRELOAD"] = lib
        try:
            r = subprocess.run([python, "-m", "unittest", case_id], env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=300)
            statuses.append(r.returncode)
        except subprocess.TimeoutExpired:
            statuses.append("timeout")
    return statuses


def module_of(case_id):
    parts = case_id.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "test" else parts[0]


def main():
    try:
        base, ours = outcomes(sys.argv[1]), outcomes(sys.argv[2])
        python, lib = sys.argv[3], sys.argv[4]
    except (OSError, ET.ParseError, IndexError) as e:
        print("FAIL cpython: cannot read the results: %s" % e)
        return 1
    for label, res in (("glibc", base), ("basemalloc", ours)):
        counts = collections.Counter(res.values())
        print("  # %s: %d test cases: %s" % (label, len(res), ", ".join(
            "%d %s" % (counts[k], k) for k in sorted(counts))))
    modules = collections.defaultdict(list)
    for case_id in set(base) | set(ours):
        modules[module_of(case_id)].append(case_id)
    failed, reruns = 0, 0
    for mod in sorted(modules):
        bad = []
        for case_id in sorted(modules[mod]):
            a, b = base.get(case_id, "absent"), ours.get(case_id, "absent")
            if a == b:
                continue
            reruns += 1
            st = rerun(python, lib, case_id) if reruns <= RERUN_MAX else None
            note = "glibc=%s basemalloc=%s" % (a, b)
            if st is not None and st[0] == st[1]:
                print("  # %s: %s; alone: both exit %s (flaky, not counted)"
                      % (case_id, note, st[0]))
                continue
            print("  # %s: %s; alone: %s" % (case_id, note, st))
            bad.append(case_id)
        if bad:
            print("FAIL cpython %s: %d test cases differ" % (mod, len(bad)))
            failed += 1
        else:
            print("PASS cpython %s (%d cases)" % (mod, len(modules[mod])))
    if not base:
        print("FAIL cpython: no test case ran")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
