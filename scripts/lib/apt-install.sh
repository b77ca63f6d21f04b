# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the project's scripts. apt_install PKG...: installs Debian/Ubuntu packages (with
# sudo when not root), running `apt-get update` only if the first attempt fails. Returns 1, with
# a message on stderr, when there is no apt-get or the install fails.
apt_install() {
  local sudo_cmd=()
  ((EUID == 0)) || sudo_cmd=(sudo)
  command -v apt-get >/dev/null || { echo "missing packages ($*) and no apt-get to install them" >&2; return 1; }
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update -qq &&
      "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
    { echo "apt-get install $* failed" >&2; return 1; }
}
