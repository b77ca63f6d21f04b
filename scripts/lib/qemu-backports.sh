# Sourced by vm-test.sh. ensure_qemu_devices DEV...: makes sure qemu-system-x86_64 offers every
# named QEMU device (igb needs QEMU >= 8.0; Debian bookworm ships 7.2). When one is missing,
# installs qemu-system-x86 from bookworm-backports (10.0, built against bookworm's libraries)
# through a private apt view: the system's sources stay as they are, and only this package (and
# what it needs) comes from backports. Installing it, rather than unpacking it beside 7.2, keeps
# QEMU's modules and ROMs of the same build. Prints nothing on success; the caller logs the
# version it ends up with.
qemu_has_devices() {
  local help d
  help=$(qemu-system-x86_64 -device help 2>/dev/null) || return 1
  for d in "$@"; do grep -q "name \"$d\"" <<<"$help" || return 1; done
}

ensure_qemu_devices() {
  qemu_has_devices "$@" && return 0
  local work suite=bookworm-backports keyring=/usr/share/keyrings/debian-archive-keyring.gpg uri sudo_cmd=()
  ((EUID == 0)) || sudo_cmd=(sudo)
  command -v apt-get >/dev/null || { echo "QEMU lacks device(s) $* and there is no apt-get to install a newer one" >&2; return 1; }
  echo "QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') lacks device(s) $*: installing qemu-system-x86 from $suite" >&2
  work=$(mktemp -d)
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  uri=${uri:-http://deb.debian.org/debian}
  mkdir -p "$work/parts" "$work/lists/partial"
  # The system's sources as they are, plus backports, in a private lists directory.
  cp /etc/apt/sources.list.d/*.sources "$work/parts/" 2>/dev/null || true
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' "$uri" "$suite" "$keyring" > "$work/parts/backports.sources"
  local opts=(-o Dir::Etc::sourcelist=/etc/apt/sources.list -o Dir::Etc::sourceparts="$work/parts" -o Dir::State::Lists="$work/lists")
  "${sudo_cmd[@]}" apt-get "${opts[@]}" update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq --no-install-recommends \
      -t "$suite" qemu-system-x86 >/dev/null
  local rc=$?
  rm -rf "$work"
  ((rc == 0)) || { echo "installing qemu-system-x86 from $suite failed" >&2; return 1; }
  qemu_has_devices "$@" || { echo "QEMU $(qemu-system-x86_64 --version | head -n1) still lacks device(s) $*" >&2; return 1; }
}
