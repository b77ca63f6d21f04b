#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Preserves a memfd of SIZE bytes (allocated, so its pages are held) in a Live Update session
# NAME and keeps the session open in a background process until the kexec: the smallest setup
# that carries preserved memory across a KHO kexec on a kernel with LUO but without the VFIO
# series (scripts/guest/repro-kexec-hugetlb.sh, REPRO_HOLD_MEMFD). Prints the holder's pid.
# Usage: luo-hold-memfd.py SIZE [NAME]
import fcntl
import os
import struct
import sys
import time

LIVEUPDATE_IOCTL_CREATE_SESSION = (0xBA << 8) | 0x00  # _IO(0xBA, 0x00)
LIVEUPDATE_SESSION_PRESERVE_FD = (0xBA << 8) | 0x40   # _IO(0xBA, 0x40)

size = int(sys.argv[1], 0)
name = (sys.argv[2] if len(sys.argv) > 2 else "repro-hugetlb").encode()
dev = os.open("/dev/liveupdate", os.O_RDWR)
create = bytearray(struct.pack("<Ii64s", 72, -1, name))  # struct liveupdate_ioctl_create_session
fcntl.ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, create, True)
session = struct.unpack_from("<i", create, 4)[0]
memfd = os.memfd_create("repro-hugetlb", 0)
os.ftruncate(memfd, size)
os.posix_fallocate(memfd, 0, size)
preserve = bytearray(struct.pack("<IiQ", 16, memfd, 1))  # struct liveupdate_session_preserve_fd
fcntl.ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, preserve, True)
pid = os.fork()
if pid:
    print(pid)
    sys.exit(0)
os.setsid()
for f in (0, 1, 2):
    os.dup2(os.open("/dev/null", os.O_RDWR), f)
while True:
    time.sleep(3600)
