#!/usr/bin/env bash
# Make a Docker engine and the Compose v2 plugin available on a Debian bookworm machine, for
# msting's integration tests and benchmarks. Run as root. Safe to run again: every step checks
# first and does nothing when its part is already there.
#
#   1. docker.io, busybox-static and debootstrap from the machine's own apt sources;
#   2. Compose v2: bookworm ships only v1, so the docker-compose package of the next release
#      (trixie) is downloaded from the same mirror and only its CLI plugin is unpacked — the
#      system is not upgraded;
#   3. dockerd started in the background (when nothing answers yet), then waited for.
#
# The mirror is read from the machine's apt sources; nothing here names a host.
# Exit status: 0 when `docker info` and `docker compose version` both answer, 1 otherwise.
set -u

log() { echo "ensure-docker: $*" >&2; }
quiet() { "$@" >/dev/null 2>&1; }

if [ "$(id -u)" -ne 0 ] && ! quiet docker info; then
  log "run as root (it installs packages and starts dockerd)"
  exit 1
fi

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
quiet dpkg-query -W -f='${Status}' busybox-static && dpkg-query -W -f='${Status}' busybox-static | grep -q 'ok installed' || need_pkgs+=(busybox-static)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  quiet apt-get update -qq
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq "${need_pkgs[@]}" || { log "apt-get install ${need_pkgs[*]} failed"; exit 1; }
fi

# The first Debian (not security) mirror the machine's apt sources name, deb822 or one-line style.
find_mirror() {
  {
    grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'
  } | grep -E '/debian/?$' | grep -v security | head -1
}

if ! quiet docker compose version || ! docker compose version --short 2>/dev/null | grep -q '^v\?2'; then
  mirror=$(find_mirror)
  [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }
  log "installing the Compose v2 plugin from $mirror trixie"
  d=$(mktemp -d)
  trap 'rm -rf "$d"' EXIT
  mkdir -p "$d/lists/partial"
  echo "deb $mirror trixie main" >"$d/sources.list"
  o=(-o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$d/lists")
  quiet apt-get "${o[@]}" update -qq || { log "apt-get update of the trixie index failed"; exit 1; }
  (cd "$d" && quiet apt-get "${o[@]}" download docker-compose) || { log "downloading docker-compose from trixie failed"; exit 1; }
  deb=$(ls "$d"/docker-compose_2*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { log "no Compose v2 package (docker-compose_2*.deb) in trixie"; exit 1; }
  dpkg -x "$deb" "$d/x"
  mkdir -p /usr/libexec/docker/cli-plugins
  install -m 0755 "$d/x/usr/libexec/docker/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose
fi

if ! quiet docker info; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  (setsid dockerd >>/var/log/dockerd.log 2>&1 </dev/null &)
  for _ in $(seq 1 120); do quiet docker info && break; sleep 0.5; done
fi
quiet docker info || { log "the engine did not answer within 60 s; see /var/log/dockerd.log"; exit 1; }
log "engine $(docker version --format '{{.Server.Version}}' 2>/dev/null), compose $(docker compose version --short)"
