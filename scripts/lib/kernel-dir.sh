# SPDX-License-Identifier: GPL-2.0-only
# Sourced by vm-test.sh: the guest kernel named by --kernel, and its modules laid out for the guest.
# Three forms:
#   debian   Debian's stock 7.x kernel, fetched by scripts/fetch-debian-kernel.sh
#   dir      a directory with bzImage and modules.tar.xz or lib/modules/<kver>/ (like
#            ../shared/kernel, or scripts/build-test-kernel.sh's output)
#   tree     a kernel build tree, in-tree or a `make O=` output dir, used as built (as virtme-ng
#            does, no install step): arch/x86/boot/bzImage, include/config/kernel.release, and
#            the modules listed in modules.order
# The functions call the caller's log and die (one line, exit 2).
#
#   kernel_resolve ARG   fast checks, before anything slow: sets kernel_kind, kdir (absolute; for
#                        debian set by kernel_prepare), kernel_label (the default results label)
#   kernel_prepare CACHE fetches Debian's kernel when asked for it, then lays the modules out
#                        under CACHE/modules/<key>/root/lib/modules/<kver>/ (built once per key;
#                        the key changes when the kernel or its modules change). Sets bzimage,
#                        mcache, moddir (that lib/modules) and kver. Run it under vm-test.sh's lock.
#
# A build tree's modules are hard links to the tree's .ko files (copies across filesystems), never
# symlinks: a guest may see only its own root, where a symlink into the host tree would dangle.
# Nothing under the cache is ever written through those links (depmod writes new files only).

kernel_here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# kernel_tree_check DIR: a build tree's one-line verdicts; sets kernel_tree_mods (the .ko paths
# relative to DIR, in modules.order's order) and kver.
kernel_tree_check() {
  local d=$1 arg=$2 m ko missing=() n
  [[ -f $d/.config ]] ||
    die "--kernel $arg: no .config (not configured? run make defconfig, or name the make O= dir)"
  [[ -f $d/arch/x86/boot/bzImage ]] || die "--kernel $arg: no arch/x86/boot/bzImage (not built? run make)"
  [[ -s $d/include/config/kernel.release ]] ||
    die "--kernel $arg: no include/config/kernel.release (not built? run make)"
  kver=$(<"$d/include/config/kernel.release")
  kernel_tree_mods=()
  if grep -qx 'CONFIG_MODULES=y' "$d/.config"; then
    [[ -f $d/modules.order ]] || die "--kernel $arg: no modules.order (modules not built? run make modules)"
    # Linux >= 6.2 lists foo.o, older trees foo.ko; both stand for foo.ko.
    while read -r m; do
      [[ -n $m ]] || continue
      ko=${m%.o}; ko=${ko%.ko}.ko
      kernel_tree_mods+=("$ko")
      [[ -f $d/$ko ]] || missing+=("$ko")
    done < "$d/modules.order"
    if ((${#missing[@]})); then
      n=$((${#missing[@]} - 1))
      die "--kernel $arg: no ${missing[0]}, which modules.order lists$( ((n)) && echo ", nor $n more of its ${#kernel_tree_mods[@]}") (modules not built? run make modules)"
    fi
    [[ -f $d/modules.builtin ]] || die "--kernel $arg: no modules.builtin (not built? run make)"
    grep -qx 'CONFIG_MODULE_SIG_FORCE=y' "$d/.config" &&
      log "warning: --kernel $arg: CONFIG_MODULE_SIG_FORCE=y, but a build tree's modules are unsigned (make modules_install signs them): the guest will refuse them"
  fi
  [[ $d/arch/x86/boot/bzImage -nt $d/.config ]] ||
    log "warning: --kernel $arg: .config is newer than arch/x86/boot/bzImage (rebuild with make?)"
  return 0
}

kernel_resolve() {
  local arg=$1
  kdir="" kernel_label=debian kernel_kind=debian
  [[ $arg == debian ]] && return 0
  [[ -d $arg ]] || die "--kernel $arg: no such directory"
  kdir=$(cd "$arg" && pwd -P)
  kernel_label=$(basename "$kdir")
  if [[ -f $kdir/bzImage ]]; then
    kernel_kind=dir
    [[ -f $kdir/modules.tar.xz ]] || compgen -G "$kdir/lib/modules/*/" >/dev/null ||
      die "--kernel $kdir: neither modules.tar.xz nor lib/modules/<kver>/"
  elif [[ -f $kdir/.config || -f $kdir/Makefile || -d $kdir/arch/x86/boot ]]; then
    kernel_kind=tree
    kernel_tree_check "$kdir" "$arg"
  else
    die "--kernel $kdir: no bzImage in it, and not a kernel build tree (no .config or Makefile)"
  fi
}

# kernel_tree_key: what identifies a build of the tree: every file the guest gets, by size and
# mtime (a rebuilt module changes the key even when bzImage and modules.order did not).
kernel_tree_key() {
  { echo "tree $kdir $kver"
    (cd "$kdir" && stat -L -c '%n %s %Y' arch/x86/boot/bzImage include/config/kernel.release .config \
       ${kernel_tree_mods[@]+"${kernel_tree_mods[@]}"} \
       $(for f in modules.order modules.builtin modules.builtin.modinfo; do [[ -f $f ]] && echo "$f"; done))
  } | sha256sum | cut -c1-16
}

# kernel_tree_layout DEST: lib/modules/<kver>/ as modules_install would write it (modules under
# kernel/, modules.order naming them there, modules.builtin{,.modinfo}), from hard links.
kernel_tree_layout() {
  local dest=$1 f
  mkdir -p "$dest/kernel"
  if ((${#kernel_tree_mods[@]})); then
    if ! (cd "$kdir" && cp -l --parents -t "$dest/kernel" "${kernel_tree_mods[@]}") 2>/dev/null; then
      # Another filesystem (or no link permission): copies. Start over, so that nothing is
      # copied onto a link (which would write into the tree).
      rm -rf "$dest/kernel"; mkdir -p "$dest/kernel"
      (cd "$kdir" && cp --parents -t "$dest/kernel" "${kernel_tree_mods[@]}") ||
        die "cannot copy the modules of $kdir into $dest"
    fi
    sed -e 's:^\(.*\)\.o$:kernel/\1.ko:' -e '/^kernel\//!s:^\(.*\.ko\)$:kernel/\1:' "$kdir/modules.order" > "$dest/modules.order"
  else
    : > "$dest/modules.order"
  fi
  for f in modules.builtin modules.builtin.modinfo; do
    if [[ -f $kdir/$f ]]; then
      cp -l "$kdir/$f" "$dest/$f" 2>/dev/null || cp "$kdir/$f" "$dest/$f"
    fi
  done
  [[ -f $dest/modules.builtin ]] || : > "$dest/modules.builtin"
}

kernel_prepare() {
  local cache=$1 modsrc key kvers
  if [[ $kernel_kind == debian ]]; then
    kdir="$cache/kernels/debian"
    "$kernel_here/fetch-debian-kernel.sh" "$kdir" || die "fetching the Debian kernel failed"
  fi
  if [[ $kernel_kind == tree ]]; then
    bzimage=$kdir/arch/x86/boot/bzImage modsrc=$kdir
    key=$(kernel_tree_key)
  else
    bzimage=$kdir/bzImage
    if [[ -f $kdir/modules.tar.xz ]]; then modsrc=$kdir/modules.tar.xz; else modsrc=$kdir/lib/modules; fi
    key=$( { echo "$kdir"; stat -L -c '%n %s %Y' "$bzimage" "$modsrc"; } | sha256sum | cut -c1-16)
  fi
  # A bzImage has "HdrS" at offset 0x202: catch garbage before booting.
  [[ $(dd if="$bzimage" bs=1 skip=514 count=4 status=none 2>/dev/null) == HdrS ]] ||
    die "$bzimage is not an x86 bzImage (no HdrS header magic)"

  mcache=$cache/modules/$key
  if [[ ! -e $mcache/ok ]]; then
    log "preparing modules from $modsrc (cache $mcache)"
    rm -rf "$mcache"; mkdir -p "$mcache/root/lib/modules"
    if [[ $kernel_kind == tree ]]; then
      kernel_tree_layout "$mcache/root/lib/modules/$kver"
      echo "$kdir" > "$mcache/tree"
    elif [[ -f $modsrc ]]; then
      tar -C "$mcache/root" -xJf "$modsrc" --strip-components=0 || die "cannot unpack $modsrc"
      [[ -d $mcache/root/lib/modules ]] || die "$modsrc does not contain lib/modules/"
    else
      cp -al "$modsrc"/. "$mcache/root/lib/modules/" 2>/dev/null || cp -a "$modsrc"/. "$mcache/root/lib/modules/"
    fi
    kvers=("$mcache"/root/lib/modules/*/)
    ((${#kvers[@]} == 1)) || die "expected exactly one lib/modules/<kver> in $modsrc"
    kver=$(basename "${kvers[0]}")
    rm -f "$mcache/root/lib/modules/$kver"/{build,source}
    if [[ ! -s $mcache/root/lib/modules/$kver/modules.dep ]]; then
      log "depmod -b $mcache/root $kver"
      depmod -b "$mcache/root" "$kver" || die "depmod failed"
    fi
    echo "$kver" > "$mcache/kver"
    touch "$mcache/ok"
  fi
  kver=$(<"$mcache/kver")
  moddir=$mcache/root/lib/modules
}
