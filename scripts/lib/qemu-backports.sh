# SPDX-License-Identifier: GPL-2.0-only
# Sourced by vm-test.sh. ensure_qemu_devices CACHE DEV...: makes sure there is a QEMU that
# offers every named device (igb needs QEMU >= 8.0; Debian bookworm ships 7.2) and sets
#   qemu_bin   the qemu-system-x86_64 to run
#   qemu_env   environment for it (NAME=VALUE words, for env(1))
#   qemu_data  its firmware/ROM search options (-L DIR ...)
# When the system's QEMU lacks a device, qemu-system-x86 10.0 from bookworm-backports (built
# against bookworm's libraries) and the three packages of the same build it needs
# (qemu-system-common, qemu-system-data, seabios) are downloaded through a private apt view and
# unpacked under CACHE; the system's QEMU, its sources and its package state stay as they are.
# Installing it system-wide instead would swap the QEMU of every other run on the machine,
# including runs already going (a running 7.2 that loads one of its modules later would find
# 10.0's and abort: "Only modules from the same build can be loaded").
# The private QEMU finds its own modules through QEMU_MODULE_DIR (searched before the built-in
# directory) and its ROMs through -L (searched before the built-in firmware path, which still
# supplies ipxe's option ROMs, the same package for both versions).
# Prints nothing on success; the caller logs the version it ends up with.
qemu_backports_suite=bookworm-backports
qemu_backports_packages=(qemu-system-x86 qemu-system-common qemu-system-data seabios)

# qemu_offers BIN DEV...: whether BIN (with qemu_env) knows every device. `-device NAME,help`
# loads only that device's module, unlike `-device help`, which loads every module it can find.
qemu_offers() {
  local bin=$1 d out; shift
  for d in "$@"; do
    out=$(env "${qemu_env[@]}" "$bin" -device "$d,help" 2>&1 </dev/null) || return 1
    [[ $out == *"Device '$d' not found"* ]] && return 1
  done
  return 0
}

ensure_qemu_devices() {
  local cache=$1; shift
  qemu_bin=$(command -v qemu-system-x86_64 || echo qemu-system-x86_64) qemu_env=() qemu_data=()
  qemu_offers "$qemu_bin" "$@" && return 0

  local root=$cache/root moddir=usr/lib/x86_64-linux-gnu/qemu
  if [[ ! -e $cache/ok ]]; then
    command -v apt-get >/dev/null || { echo "QEMU lacks device(s) $* and there is no apt-get to fetch a newer one" >&2; return 1; }
    echo "QEMU $(qemu-system-x86_64 --version 2>/dev/null | head -n1 | awk '{print $4}') lacks device(s) $*: unpacking qemu-system-x86 from $qemu_backports_suite into $cache" >&2
    local work uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg p v versions=()
    work=$(mktemp -d)
    . "$(dirname "${BASH_SOURCE[0]}")/debian-apt-view.sh"
    uri=$(system_debian_mirror) || { rm -rf "$work"; return 1; }
    mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' "$uri" "$qemu_backports_suite" "$keyring" > "$work/parts/backports.sources"
    local opts=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$work/parts"
      -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
    if ! apt-get "${opts[@]}" update -qq; then
      rm -rf "$work"; echo "apt-get update for $qemu_backports_suite failed" >&2; return 1
    fi
    for p in "${qemu_backports_packages[@]}"; do
      v=$(apt-cache "${opts[@]}" policy "$p" | awk '/Candidate:/ {print $2; exit}')
      [[ -n $v && $v != "(none)" ]] || { rm -rf "$work"; echo "$qemu_backports_suite has no $p" >&2; return 1; }
      versions+=("$p=$v")
    done
    if ! (cd "$work/debs" && apt-get "${opts[@]}" download -qq "${versions[@]}"); then
      rm -rf "$work"; echo "downloading ${versions[*]} failed" >&2; return 1
    fi
    rm -rf "$cache"; mkdir -p "$root"
    local deb
    for deb in "$work"/debs/*.deb; do
      dpkg-deb -x "$deb" "$root" || { rm -rf "$work" "$cache"; echo "cannot unpack $deb" >&2; return 1; }
    done
    printf '%s\n' "${versions[@]}" > "$cache/versions"
    rm -rf "$work"
    touch "$cache/ok"
  fi
  qemu_bin=$root/usr/bin/qemu-system-x86_64
  qemu_env=("QEMU_MODULE_DIR=$root/$moddir")
  qemu_data=(-L "$root/usr/share/qemu" -L "$root/usr/share/seabios")
  [[ -x $qemu_bin ]] || { echo "$qemu_bin is missing (remove $cache to fetch it again)" >&2; return 1; }
  qemu_offers "$qemu_bin" "$@" || { echo "$($qemu_bin --version | head -n1) still lacks device(s) $*" >&2; return 1; }
}
