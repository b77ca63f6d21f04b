# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the fetch/build scripts.
# system_debian_mirror: prints the Debian mirror the system's apt is configured with (deb822
# *.sources, else sources.list; not the security archive), or says so in one line and fails:
# no mirror of our own is ever assumed.
system_debian_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [[ -n $uri ]] && break
  done
  [[ -z $uri && -r /etc/apt/sources.list ]] &&
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)
  [[ -n $uri ]] || { echo "no Debian mirror configured in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list: configure apt first" >&2; return 1; }
  echo "$uri"
}

# debian_apt_view WORK SUITE: a private apt view of another
# Debian suite (for example trixie-backports) that reuses the system's configured mirror, with
# its own lists and cache under WORK: no system change. Sets the array apt_opts for
# apt-get/apt-cache and uri (the mirror), and runs `apt-get update` for it.
debian_apt_view() {
  local work=$1 suite=$2 keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  uri=$(system_debian_mirror) || return 1
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources.d"
  # deb822 format: apt only parses it from a *.sources file in a parts dir.
  { printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$suite"
    [[ -r $keyring ]] && printf 'Signed-By: %s\n' "$keyring"; } > "$work/apt/sources.d/view.sources"
  apt_opts=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$work/apt/sources.d"
            -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache"
            -o Dir::State::status=/dev/null -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
  echo "apt view: $uri $suite" >&2
  apt-get "${apt_opts[@]}" update -qq
}
