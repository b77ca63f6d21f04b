#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds a minimal Debian root filesystem with no Swift in it (debootstrap --variant=minbase from
# the mirror the system's apt is configured with), once, cached under .build-vm/rootfs/. It is the
# guest root of `vm-test.sh --rootfs` and of the LAVA job (scripts/lava/): the kselftest package
# (scripts/package.sh) and the kernel's C install run there as on any lab machine, with only what
# a plain Debian system has: glibc, bash, libkmod, libuuid, kexec-tools for the two-stage runs.
# Usage: build-rootfs.sh [--print-mirror] [DIR]   (default DIR: <repo>/.build-vm/rootfs/<suite>)
#   Prints the root's path on stdout.
# Env: ROOTFS_SUITE (default: this host's VERSION_CODENAME, e.g. bookworm), FORCE=1 (rebuild).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { echo "build-rootfs: $*" >&2; }
die() { log "error: $*"; exit 1; }

. "$here/lib/debian-apt-view.sh"
print_mirror=0
[[ ${1:-} == --print-mirror ]] && { print_mirror=1; shift; }
mirror=$(system_debian_mirror) || exit 1
((print_mirror)) && { echo "$mirror"; exit 0; }
suite=${ROOTFS_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
[[ -n $suite ]] || die "no VERSION_CODENAME in /etc/os-release: set ROOTFS_SUITE"
out=${1:-$repo/.build-vm/rootfs/$suite}
# What the packaged programs and the guest scripts need beyond minbase: kmod (libkmod, modprobe),
# kexec-tools (stage 2), procps and util-linux basics come with minbase; bash is there too.
include=kmod,kexec-tools,xz-utils,ca-certificates
stamp="$suite $mirror $include v1"
if [[ -z ${FORCE:-} && -e $out/.vfio-selftests-rootfs && $(cat "$out/.vfio-selftests-rootfs") == "$stamp" ]]; then
  echo "$out"; exit 0
fi
((EUID == 0)) || die "debootstrap needs root"
PATH=$PATH:/usr/sbin:/sbin
if ! command -v debootstrap >/dev/null; then
  . "$here/lib/apt-install.sh"
  apt_install debootstrap || die "cannot install debootstrap"
fi
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
tmp="$out.tmp.$$"
rm -rf "$tmp"; mkdir -p "$(dirname "$out")"
trap 'rm -rf "$tmp"' EXIT
log "debootstrap --variant=minbase --include=$include $suite from $mirror (a few minutes, once)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
kr=(); [[ -r $keyring ]] && kr=(--keyring="$keyring")
debootstrap --variant=minbase --include="$include" "${kr[@]}" "$suite" "$tmp" "$mirror" > "$tmp.log" 2>&1 ||
  { tail -n 20 "$tmp.log" >&2; rm -f "$tmp.log"; die "debootstrap failed"; }
rm -f "$tmp.log"
# Smaller and quieter: no apt caches or docs; mount points the guest uses.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/*
mkdir -p "$tmp"/lib/modules "$tmp"/opt/vfio-selftests "$tmp"/mnt "$tmp"/media "$tmp"/srv
# No Swift inside, by construction; say so where anyone looks.
echo "vfio-selftests guest root: Debian $suite minbase + $include (scripts/build-rootfs.sh); no Swift toolchain" > "$tmp/etc/motd"
echo "$stamp" > "$tmp/.vfio-selftests-rootfs"
rm -rf "$out"; mv "$tmp" "$out"
trap - EXIT
log "root in $out ($(du -sh "$out" | cut -f1))"
echo "$out"
