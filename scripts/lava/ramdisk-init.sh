#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the LAVA ramdisk (scripts/lava/run-local.sh copies it in): PID 1 of a Debian minbase
# root unpacked into the initramfs. Mounts what a booted system has, keeps kernel messages off
# the console (they would split LAVA's signal lines and the KTAP), and gives LAVA a root shell on
# ttyS0 with the prompt the job waits for ("vfio-dut# ", set in /root/.bashrc). When that shell
# ends, the machine powers off (QEMU runs with -no-reboot).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
chmod 1777 /tmp
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
hostname vfio-dut 2>/dev/null || echo vfio-dut > /proc/sys/kernel/hostname
echo 1 > /proc/sys/kernel/printk 2>/dev/null || dmesg -n 1
# Loopback up, as on any booted system (the package's Swift programs wake Foundation's run loop
# over 127.0.0.1; without it they hang). A minbase root has no ip/ifconfig: perl-base's ioctl
# (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP); the kernel gives lo 127.0.0.1 when it goes up.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null ||
  perl -MSocket -e 'socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
    my $r = pack("a16 x24", "lo"); ioctl($s, 0x8913, $r) or die "SIOCGIFFLAGS: $!\n";
    ioctl($s, 0x8914, pack("a16 s x22", "lo", unpack("x16 s", $r) | 1)) or die "SIOCSIFFLAGS: $!\n"' ||
  echo "vfio-dut: warning: cannot bring up lo"
exec </dev/ttyS0 >/dev/ttyS0 2>&1
echo "vfio-dut: $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s, lo flags $(cat /sys/class/net/lo/flags), $(cat /etc/motd 2>/dev/null)"
# bash without line editing (no bracketed-paste sequences around the prompt), with ttyS0 as its
# controlling terminal.
setsid -c -w /bin/bash --noediting -i
echo "vfio-dut: shell ended, powering off"
echo o > /proc/sysrq-trigger
sleep 10
