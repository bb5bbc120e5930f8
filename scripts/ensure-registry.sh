#!/usr/bin/env bash
# Make a private Docker registry available for msting's registry tests: Debian's docker-registry
# (the CNCF distribution server, /usr/bin/docker-registry) and htpasswd (apache2-utils) for the
# bcrypt password file of the registry that answers 401. The tests start their own registries on
# 127.0.0.1 with free ports (test/support/registry.ts); nothing is started here, and a registry
# service the package may have started is left alone. Run as root. Safe to run again: it does
# nothing when both commands are there.
set -u

log() { echo "ensure-registry: $*" >&2; }

need_pkgs=()
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need_pkgs+=(apache2-utils)
[ "${#need_pkgs[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  log "run as root to install ${need_pkgs[*]}"
  exit 1
fi
log "installing ${need_pkgs[*]}"
apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; trying the package lists there are"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null || { log "apt-get install ${need_pkgs[*]} failed"; exit 1; }
command -v docker-registry >/dev/null 2>&1 && command -v htpasswd >/dev/null 2>&1
