#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Where the free 2 MiB hugetlb pages are: maps every free page of the pool (MAP_HUGETLB), touches
# each, prints its PFN and physical address from /proc/self/pagemap (root). With --cycle it then
# frees the pool (nr_hugepages 0) and allocates it again, printing CmaFree each time: the pool's
# pages that sat in CMA pageblocks (KHO scratch after a KHO boot) come back as free CMA memory.
# Used by scripts/guest/repro-kexec-hugetlb.sh.
import mmap, struct, sys

SZ = 2 << 20
MAP_HUGETLB = 0x40000
pool = "/sys/kernel/mm/hugepages/hugepages-2048kB/"


def cma_free_kb():
    for line in open("/proc/meminfo"):
        if line.startswith("CmaFree:"):
            return int(line.split()[1])
    return -1


free = int(open(pool + "free_hugepages").read())
print(f"free 2 MiB pages: {free}; CmaFree {cma_free_kb()} kB")
if free:
    m = mmap.mmap(-1, free * SZ, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_HUGETLB)
    for i in range(free):
        m[i * SZ] = 1
    # The mapping's address from /proc/self/maps (the only hugetlb mapping of this process).
    addr = None
    for line in open("/proc/self/maps"):
        if "anon_hugepage" in line or ("huge" in line and "deleted" in line):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if hi - lo == free * SZ:
                addr = lo
    if addr is None:
        raise SystemExit(f"no hugetlb mapping of {free * SZ} bytes in /proc/self/maps")
    with open("/proc/self/pagemap", "rb") as pm:
        for i in range(free):
            va = addr + i * SZ
            pm.seek(va // 4096 * 8)
            e = struct.unpack("Q", pm.read(8))[0]
            pfn = e & ((1 << 55) - 1)
            present = bool(e >> 63)
            print(f"page {i}: va 0x{va:x} present {present} pfn 0x{pfn:x} phys 0x{pfn * 4096:x}")
    print(f"CmaFree while held: {cma_free_kb()} kB")
    m.close()

if "--cycle" not in sys.argv:
    raise SystemExit(0)
nr = int(open(pool + "nr_hugepages").read())
before = cma_free_kb()
open(pool + "nr_hugepages", "w").write("0")
after = cma_free_kb()
open(pool + "nr_hugepages", "w").write(str(nr))
again = cma_free_kb()
print(f"pool of {nr}: CmaFree {before} kB; with the pool freed {after} kB (+{after - before} kB = "
      f"{(after - before) // 2048} pages of 2 MiB were in CMA); allocated again {again} kB "
      f"({int(open(pool + 'nr_hugepages').read())} pages)")
