#!/usr/bin/env python3
"""test/prof/check.py: checks on the heap profiler's dumps and leak reports
for test/prof/run. Parses dumps with bench/prof's reader (pprof's own regular
expressions) and, independently, re-checks the format line by line.
  check.py parse DUMP                 the format: header, lines, maps, sums
  check.py leak REPORT DUMP           the planted leak is reported and parsed
  check.py clean REPORT               none of the program's stacks reported
  check.py fork PARENT CHILD          each process's dump is its own
  check.py threads DUMP               threads' blocks; frees by another thread
  check.py gdump DIR                  high-water dumps, growing
  check.py cxx DUMP                   C++ sites, demangled
  check.py python DUMP                python3's allocations
Prints one line "ok: ..." or "error: ..." and exits 0 or 1.
"""
import glob
import importlib.machinery
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_loader = importlib.machinery.SourceFileLoader('benchprof', os.path.join(HERE, '..', '..', 'bench', 'prof'))
_spec = importlib.util.spec_from_loader('benchprof', _loader)
bp = importlib.util.module_from_spec(_spec)
_loader.exec_module(bp)

MiB = 1 << 20


def fail(msg):
    print('error: ' + msg)
    sys.exit(1)


def ok(msg):
    print('ok: ' + msg)
    sys.exit(0)


def site_bytes(prof, name):
    """Estimated live bytes of stacks with a frame of function name."""
    return sum(s.est_bytes for s in prof.stacks if any(f.func == name for f in s.frames))


def near(value, want, tol):
    return abs(value - want) <= tol * want


def check_format(path):
    with open(path) as f:
        lines = f.read().split('\n')
    h = re.fullmatch(r'heap profile: (\d+): (\d+) \[0: 0\] @ heap_v2/(\d+)', lines[0])
    if not h:
        fail('%s: header %r' % (path, lines[0]))
    n = b = 0
    i = 1
    while lines[i] != '':
        m = re.fullmatch(r'(\d+): (\d+) \[0: 0\] @((?: 0x[0-9a-f]+)*)', lines[i])
        if not m:
            fail('%s:%d: %r' % (path, i + 1, lines[i]))
        n += int(m.group(1))
        b += int(m.group(2))
        i += 1
    if lines[i + 1] != 'MAPPED_LIBRARIES:':
        fail('%s: no MAPPED_LIBRARIES after the samples' % path)
    if (n, b) != (int(h.group(1)), int(h.group(2))):
        fail('%s: the header says %s: %s, the lines add up to %d: %d' % (
            path, h.group(1), h.group(2), n, b))
    prof = bp.parse(path)
    if not prof.maps:
        fail('%s: no executable mapping' % path)
    for s in prof.stacks:
        for a in s.addrs:
            if not any(m.start <= a < m.end for m in prof.maps):
                fail('%s: address 0x%x is in no executable mapping' % (path, a))
    return n, b


def cmd_parse(path):
    n, b = check_format(path)
    ok('%s: %d samples, %d bytes, every address in a mapping' % (path, n, b))


def cmd_leak(report, dump):
    text = open(report).read()
    m = re.search(r'basemalloc: ~([0-9.]+) MiB in ~(\d+) objects \((\d+) samples\) allocated at:\n'
                  r'    #0 0x[0-9a-f]+ leak_here\+0x[0-9a-f]+ \(\S+/progs\)', text)
    if not m:
        fail('no leak_here stack with its estimate in the report:\n' + text[:2000])
    if not near(float(m.group(1)) * MiB, 32 * MiB, 0.25):
        fail('leak_here: ~%s MiB reported, 32 MiB leaked' % m.group(1))
    if 'clean_here' in text:
        fail('clean_here (freed) is in the leak report')
    check_format(dump)
    prof = bp.load(dump)
    top = max(prof.stacks, key=lambda s: s.est_bytes)
    f = top.frames[0]
    if f.func != 'leak_here' or not f.file.endswith('progs.c') or f.line <= 0:
        fail('the dump\'s biggest stack starts at %s %s:%s' % (f.func, f.file, f.line))
    ok('leak_here ~%s MiB in ~%s objects; the dump symbolises to %s:%d' % (
        m.group(1), m.group(2), os.path.basename(f.file), f.line))


def cmd_clean(report):
    text = open(report).read()
    if 'basemalloc: leak report:' not in text:
        fail('no leak report')
    for name in ('clean_here', 'leak_here', ' main+'):
        if name in text:
            fail('%s is in the leak report of a program that freed everything:\n%s' % (
                name.strip(), text[:2000]))
    ok('no stack of the program in the report: ' + text.split('\n')[0])


def cmd_fork(parent, child):
    check_format(parent)
    check_format(child)
    p, c = bp.load(parent), bp.load(child)
    pp, pc = site_bytes(p, 'parent_site'), site_bytes(p, 'child_site')
    cp, cc = site_bytes(c, 'parent_site'), site_bytes(c, 'child_site')
    if not near(pp, 16 * MiB, 0.25) or pc != 0:
        fail('parent dump: parent_site %.1f MiB, child_site %.1f MiB' % (pp / MiB, pc / MiB))
    if not near(cp, 16 * MiB, 0.25) or not near(cc, 16 * MiB, 0.25):
        fail('child dump: parent_site %.1f MiB, child_site %.1f MiB' % (cp / MiB, cc / MiB))
    ok('parent: parent_site %.1f MiB, no child_site; child: %.1f + %.1f MiB' % (
        pp / MiB, cp / MiB, cc / MiB))


def cmd_threads(dump):
    check_format(dump)
    prof = bp.load(dump)
    t, h = site_bytes(prof, 'thread_site'), site_bytes(prof, 'handoff_site')
    if not near(t, 32 * MiB, 0.25) or h > MiB:
        fail('thread_site %.1f MiB (32 live), handoff_site %.1f MiB (freed)' % (t / MiB, h / MiB))
    ok('thread_site %.1f MiB of 32, handoff_site %.1f MiB (freed by another thread)' % (
        t / MiB, h / MiB))


def cmd_gdump(d):
    files = sorted(glob.glob(os.path.join(d, 'gd.*.u.heap')),
                   key=lambda p: int(p.split('.')[-3]))
    if len(files) < 4:
        fail('%d high-water dumps for 64 MiB in steps of 8 MiB' % len(files))
    totals = []
    for path in files:
        check_format(path)
        totals.append(bp.parse(path).total()[1])
    if any(b < a for a, b in zip(totals, totals[1:])) or totals[-1] < 40 * MiB:
        fail('dump totals %s' % ['%.1f' % (t / MiB) for t in totals])
    ok('%d high-water dumps, %.1f .. %.1f MiB' % (len(files), totals[0] / MiB, totals[-1] / MiB))


def cmd_cxx(dump):
    check_format(dump)
    prof = bp.load(dump)
    fs, bt = site_bytes(prof, 'fill_strings'), 0.0
    for s in prof.stacks:
        if any(f.func.startswith('build_tree') for f in s.frames):
            bt += s.est_bytes
    if fs < 25 * MiB or bt < 18 * MiB:
        fail('fill_strings %.1f MiB (~40), build_tree %.1f MiB (~28)' % (fs / MiB, bt / MiB))
    names = set(f.func for s in prof.stacks for f in s.frames)
    if not any(n.startswith('std::') for n in names):
        fail('no demangled std:: frame')
    ok('fill_strings %.1f MiB, build_tree %.1f MiB, frames demangled' % (fs / MiB, bt / MiB))


def cmd_python(dump):
    check_format(dump)
    prof = bp.load(dump)
    total = prof.total()[1]
    py = sum(s.est_bytes for s in prof.stacks
             if any(re.match(r'_?Py', f.func) for f in s.frames))
    if total < 30 * MiB or py < 0.8 * total:
        fail('python3: %.1f MiB in all, %.1f MiB under Py* functions' % (total / MiB, py / MiB))
    ok('python3: %.1f MiB, %.0f%% under Py* functions' % (total / MiB, 100 * py / total))


def main():
    cmds = {'parse': cmd_parse, 'leak': cmd_leak, 'clean': cmd_clean, 'fork': cmd_fork,
            'threads': cmd_threads, 'gdump': cmd_gdump, 'cxx': cmd_cxx, 'python': cmd_python}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    try:
        cmds[sys.argv[1]](*sys.argv[2:])
    except (OSError, ValueError, IndexError) as e:
        fail('%s: %s' % (sys.argv[1], e))


if __name__ == '__main__':
    main()
