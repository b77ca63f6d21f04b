# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the fetch scripts. linux_source_extract WORK PATH...: takes Debian's
# $pkg (linux-source-7.3) .deb from $LINUX_SOURCE_DEB, else .build-vm/debs, else downloads it
# from $suite (keeping it in .build-vm/debs) through a private apt view (no system apt state
# touched), and extracts only PATH... (relative to the source tree) into WORK/k/<top>/. Sets deb (the .deb used) and top (the tree's top directory).
# Needs $here (the scripts dir), $pkg, $suite and a log function.
linux_source_extract() {
  local work=$1 src c
  shift
  for c in dpkg-deb tar xz; do command -v "$c" >/dev/null || { log "needs $c"; return 1; }; done
  deb=${LINUX_SOURCE_DEB:-}
  # A downloaded .deb is kept in .build-vm/debs, so the next fetcher (kunit.py, the C
  # selftests) does not download it again.
  local keep=$here/../.build-vm/debs
  if [[ -z $deb ]]; then deb=$(ls "$keep"/"$pkg"_*.deb 2>/dev/null | tail -n1) || deb=""; fi
  if [[ -z $deb ]]; then
    for c in apt-get apt-cache; do command -v "$c" >/dev/null || { log "needs $c (a Debian/Ubuntu host)"; return 1; }; done
    . "$here/lib/debian-apt-view.sh"
    log "downloading $pkg"
    debian_apt_view "$work" "$suite" || return 1
    (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$pkg") || return 1
    deb=$(ls "$work"/"$pkg"_*.deb | head -n1)
    mkdir -p "$keep" && mv "$deb" "$keep/" && deb=$keep/$(basename "$deb")
  fi
  log "extracting $* from $(basename "$deb")"
  # The package holds usr/src/<pkg>.tar.xz; take only the paths asked for out of it.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards './usr/src/linux-source-*.tar.xz' || return 1
  src=$(ls "$work"/usr/src/linux-source-*.tar.xz | head -n1)
  top=$(basename "$src" .tar.xz)
  mkdir -p "$work/k"
  tar -xJf "$src" -C "$work/k" "${@/#/$top/}"
}
