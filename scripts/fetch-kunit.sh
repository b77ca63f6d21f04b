#!/usr/bin/env bash
# Fetches the kernel's KTAP parser, tools/testing/kunit (kunit.py parse), from Debian's
# linux-source-<ver> package through a private apt view (no system apt state touched), extracting
# only tools/testing/kunit into a cache. Prints the path of kunit.py on stdout.
# Usage: fetch-kunit.sh [CACHEDIR]   (default: <repo>/.build-vm/kunit)
# Env:   KERNEL_SOURCE_PKG (default linux-source-7.3), KERNEL_SUITE (default trixie-backports),
#        LINUX_SOURCE_DEB=path to an already downloaded linux-source .deb (skips apt), FORCE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-$repo/.build-vm/kunit}
pkg=${KERNEL_SOURCE_PKG:-linux-source-7.3}
suite=${KERNEL_SUITE:-trixie-backports}
log() { echo "fetch-kunit: $*" >&2; }

if [[ -z ${FORCE:-} && -s $out/tools/testing/kunit/kunit.py ]]; then
  echo "$out/tools/testing/kunit/kunit.py"; exit 0
fi
for c in dpkg-deb tar xz; do command -v "$c" >/dev/null || { log "needs $c"; exit 1; }; done
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
work=$(mktemp -d "$repo/.build-vm/kunit-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

deb=${LINUX_SOURCE_DEB:-}
if [[ -z $deb ]]; then
  for c in apt-get apt-cache; do command -v "$c" >/dev/null || { log "needs $c (a Debian/Ubuntu host)"; exit 1; }; done
  . "$here/lib/debian-apt-view.sh"
  log "downloading $pkg"
  debian_apt_view "$work" "$suite"
  (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$pkg")
  deb=$(ls "$work"/"$pkg"_*.deb | head -n1)
fi
log "extracting tools/testing/kunit from $(basename "$deb")"
# The package holds usr/src/<pkg>.tar.xz; take only the kunit tool out of it.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards './usr/src/linux-source-*.tar.xz'
src=$(ls "$work"/usr/src/linux-source-*.tar.xz | head -n1)
top=$(basename "$src" .tar.xz)
mkdir -p "$work/k"
tar -xJf "$src" -C "$work/k" "$top/tools/testing/kunit"
rm -rf "$out.new"; mkdir -p "$out.new/tools/testing"
mv "$work/k/$top/tools/testing/kunit" "$out.new/tools/testing/kunit"
echo "source: $(basename "$deb")" > "$out.new/VERSION"
rm -rf "$out"; mv "$out.new" "$out"
log "kunit.py in $out"
echo "$out/tools/testing/kunit/kunit.py"
