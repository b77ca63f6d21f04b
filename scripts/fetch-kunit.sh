#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
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
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
work=$(mktemp -d "$repo/.build-vm/kunit-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
. "$here/lib/linux-source.sh"
linux_source_extract "$work" tools/testing/kunit
rm -rf "$out.new"; mkdir -p "$out.new/tools/testing"
mv "$work/k/$top/tools/testing/kunit" "$out.new/tools/testing/kunit"
echo "source: $(basename "$deb")" > "$out.new/VERSION"
rm -rf "$out"; mv "$out.new" "$out"
log "kunit.py in $out"
echo "$out/tools/testing/kunit/kunit.py"
