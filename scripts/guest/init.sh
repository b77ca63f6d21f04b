#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# PID 1 of the vm-test.sh guest (busybox ash, copied into the initramfs as /init).
# Mounts the host tree (9p, ro) at /host, the results share (9p, rw) inside it, chroots into
# /host and runs scripts/guest/run-suites.sh; in stage 1 of a two-stage run it then kexecs the
# same kernel + initramfs with "vfio_selftests.stage=2" appended. Config: /vm-test.env
# (written by vm-test.sh). Protocol: <results>/stageN/booted when the stage starts,
# <results>/stageN/exit-code when it ends; then poweroff -f (or kexec -e).
export PATH=/bin:/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
. /vm-test.env

say() { echo "vm-test-init: $*"; }
die() {
  say "FATAL: $*"
  [ -n "${STAGE_DIR:-}" ] && [ -d "$STAGE_DIR" ] && echo "init: $*" > "$STAGE_DIR/init-error"
  sync; poweroff -f; sleep 5; exit 1
}

STAGE=1
grep -q 'vfio_selftests\.stage=2' /proc/cmdline && STAGE=2
say "stage $STAGE, kernel $(uname -r), label $KERNEL_LABEL, uptime $(cut -d' ' -f1 /proc/uptime) s"

# Loopback up, as on any booted system: Foundation's run loop wakes itself over 127.0.0.1.
ifconfig lo 127.0.0.1 up 2>/dev/null || ip link set lo up 2>/dev/null || say "warning: cannot bring up lo"

# 9p bootstrap modules (only on kernels where 9p is modular), in dependency order.
if [ -s /modules/order ]; then
  while read -r m; do
    insmod "/modules/$m" || say "warning: insmod $m failed"
  done < /modules/order
fi

mkdir -p /host
# cache=loose: the host tree does not change during a run, and without a page cache every
# start of a Swift binary reads its libraries (Foundation, ICU data) over 9p again.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host || die "cannot mount the host tree (9p tag host)"
say "9p: host tree on /host (ro)"
# --rootfs: /host is a minimal Debian root, not the host's; what it needs from the host (modules,
# kernel and initramfs for the kexec, the installs, the guest script) is the payload share.
if [ "${ROOTFS:-0}" = 1 ]; then
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 payload /host/opt/vfio-selftests ||
    die "cannot mount the payload share (9p tag payload) on /opt/vfio-selftests"
  say "9p: payload on /opt/vfio-selftests (ro); guest root: $(cat /host/etc/motd 2>/dev/null)"
fi
[ -d "/host$MODULES_DIR/$(uname -r)" ] || die "no /host$MODULES_DIR/$(uname -r): modules were prepared for another kernel?"
[ -d /host/lib/modules ] || die "/lib/modules does not exist on the host (vm-test.sh should have created it)"
mount --bind "/host$MODULES_DIR" /host/lib/modules || die "cannot bind the guest modules onto /host/lib/modules"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts 2>/dev/null
mount -t tmpfs tmpfs /host/dev/shm
[ -e /host/dev/fd ] || ln -s /proc/self/fd /host/dev/fd
[ -e /host/dev/stdin ] || ln -s /proc/self/fd/0 /host/dev/stdin
[ -e /host/dev/stdout ] || ln -s /proc/self/fd/1 /host/dev/stdout
[ -e /host/dev/stderr ] || ln -s /proc/self/fd/2 /host/dev/stderr
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
# tmpfs on /tmp and /run unless that would hide the repo, the binaries or this run's files.
[ "$TMPFS_TMP" = 1 ] && mount -t tmpfs -o mode=1777 tmpfs /host/tmp
[ "$TMPFS_RUN" = 1 ] && mount -t tmpfs -o mode=755 tmpfs /host/run
mount -t 9p -o trans=virtio,version=9p2000.L,rw results "/host$RESULTS_MNT" || die "cannot mount the results share (9p tag results) on /host$RESULTS_MNT"
say "9p: results share on $RESULTS_MNT (rw)"

GUEST_RESULTS="$RESULTS_MNT/stage$STAGE"
STAGE_DIR="/host$GUEST_RESULTS"
mkdir -p "$STAGE_DIR"
cut -d' ' -f1 /proc/uptime > "$STAGE_DIR/booted"

set -- PATH="$GUEST_PATH" HOME="$GUEST_HOME" TMPDIR="$GUEST_TMP" TERM=dumb LANG=C.UTF-8 \
  VFIO_SELFTESTS_BDF="$BDF" VFIO_SELFTESTS_STAGES="$STAGES" \
  VFIO_SELFTESTS_RESULTS="$GUEST_RESULTS" VFIO_SELFTESTS_KERNEL="$KERNEL_LABEL" \
  VFIO_SELFTESTS_REPO="$REPO" VFIO_SELFTESTS_FILTER="$FILTER" VFIO_SELFTESTS_BIN_DIR="$BIN_DIR"
[ "$STRICT_SET" = 1 ] && set -- "$@" VFIO_SELFTESTS_STRICT="$STRICT"
[ -n "$EXTRA_BDFS" ] && set -- "$@" VFIO_SELFTESTS_EXTRA_BDFS="$EXTRA_BDFS"
[ -n "$SRIOV_BDF" ] && set -- "$@" VFIO_SELFTESTS_SRIOV_BDF="$SRIOV_BDF"
# vm-test.sh --env NAME=VALUE (checked there: no spaces or quotes).
for kv in $GUEST_ENV; do set -- "$@" "$kv"; done
# Only a two-stage run is a staged run: the kexec suites skip without VFIO_SELFTESTS_STAGE.
[ "$STAGES" = 2 ] && set -- "$@" VFIO_SELFTESTS_STAGE="$STAGE"
say "running $REPO/${GUEST_SCRIPT:-scripts/guest/run-suites.sh} (stage $STAGE)"
chroot /host /usr/bin/env -i "$@" /bin/bash "$REPO/${GUEST_SCRIPT:-scripts/guest/run-suites.sh}"
rc=$?
echo "$rc" > "$STAGE_DIR/exit-code"
say "stage $STAGE: run-suites.sh exited $rc, uptime $(cut -d' ' -f1 /proc/uptime) s"
sync

if [ "$STAGE" = 1 ] && [ "$STAGES" = 2 ]; then
  say "loading the stage-2 kernel: kexec -s -l $KEXEC_KERNEL --initrd=$KEXEC_INITRD"
  if chroot /host "$KEXEC_BIN" -s -l "$KEXEC_KERNEL" --initrd="$KEXEC_INITRD" \
       --append="$(sed 's/ *vfio_selftests\.stage=[0-9]*//g' /proc/cmdline) vfio_selftests.stage=2"; then
    say "kexec -e"
    sync
    chroot /host "$KEXEC_BIN" -e
    die "kexec -e returned"
  else
    die "kexec -s -l failed"
  fi
fi
poweroff -f
sleep 5
