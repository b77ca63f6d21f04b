#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""User-space time inside an operation's window, from `perf script` output
(scripts/guest/bench-perf.sh with BENCH_PERF_PROCS: the operation in many fresh processes under
one `perf record -F 8000 -g`). A sample is in the window when a frame of its call chain matches
REGEX (C: the libvfio calls; Swift: LibVFIO's initializers and closes). Kernel samples are not
counted: a system call made through libc's wrappers can lose the caller's frames (libc keeps no
frame pointer), on either side unevenly.

Prints, per file: the processes with window samples, user-space samples per process and their
time (the sampling period, 125 µs at 8000 Hz), by kind of work (the top frame's symbol), the
top symbols, and, with --callers, the first frame of the program's own code under each runtime
sample (who asked for the metadata or the conformance).

Usage: perf-window.py [--callers] REGEX FILE.script.gz [REGEX FILE ...]
"""
import collections
import gzip
import re
import sys

PERIOD_MS = 0.125
KINDS = [
    ('conformance lookups', r'conformsToProtocol|ConformanceCandidate|getWitnessTable|_checkGenericRequirements|AssociatedType'),
    ('type metadata from mangled names', r'Mangled|Demangl|TypeDecoder|gatherGeneric|getGenericMetadata|MetadataBuilder|getCanonical|instantiate|Metadata|SymbolicReference|descriptorFromStandardMangling'),
    ('dynamic linker (lazy binding)', r'_dl_|do_lookup|check_match|tls_get_addr'),
    ('allocation, retain/release', r'malloc|free|swift_allocObject|swift_retain|swift_release|swift_dealloc|_int_'),
    ('the library and the bench', r'LibVFIO|SystemPackage|vfio_bench|^vfio_|^iommu_|__vfio|readlink_base|dsa_|ioat_|igb_|nv_falcon'),
    ('other (libc, the Swift standard library)', r''),
]
RUNTIME = re.compile(KINDS[0][1] + '|' + KINDS[1][1])


def samples(path):
    head, frames = None, []
    with gzip.open(path, 'rt', errors='replace') as f:
        for line in f:
            if not line.strip():
                if head:
                    yield head, frames
                head, frames = None, []
            elif not line[0].isspace():
                head = line.split()
            else:
                m = re.match(r'\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$', line)
                if m:
                    frames.append((re.sub(r'\+0x[0-9a-f]+$', '', m.group(1)), m.group(2)))
    if head:
        yield head, frames


def report(regex, path, callers):
    pat = re.compile(regex)
    pids = set()
    kinds, syms, asked = collections.Counter(), collections.Counter(), collections.Counter()
    user = 0
    for head, frames in samples(path):
        if not frames or 'kernel' in frames[0][1] or not any(pat.search(s) for s, _ in frames):
            continue
        pids.add(head[1])
        user += 1
        sym = frames[0][0]
        syms[sym[:90]] += 1
        kinds[next(k for k, p in KINDS if not p or re.search(p, sym))] += 1
        if callers and RUNTIME.search(sym):
            own = next((s for s, d in frames if not RUNTIME.search(s) and 'libswiftCore' not in d
                        and 'ld-linux' not in d and 'libc.so' not in d), '?')
            asked[own[:110]] += 1
    n = max(len(pids), 1)
    print(f"{path}: {len(pids)} processes; user space in the window {user / n:.1f} samples a process "
          f"({user / n * PERIOD_MS:.2f} ms)")
    for k, _ in KINDS:
        print(f"    {k:42s} {kinds[k] / n * PERIOD_MS:5.2f} ms")
    print(f"  {len(syms)} symbols; the top 8: " + "; ".join(f"{s} {c}" for s, c in syms.most_common(8)))
    if callers:
        print("  runtime work asked for by: " + "; ".join(f"{s} {c}" for s, c in asked.most_common(6)))


args = sys.argv[1:]
callers = '--callers' in args
args = [a for a in args if a != '--callers']
if not args or len(args) % 2:
    sys.exit(__doc__)
for i in range(0, len(args), 2):
    report(args[i], args[i + 1], callers)
