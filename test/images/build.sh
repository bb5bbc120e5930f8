#!/usr/bin/env bash
# Build the local images msting's integration tests and benchmarks run on, once; later runs
# reuse them. No registry is needed: everything comes from the machine's Debian packages.
#
#   msting-test/busybox:<hash>  FROM scratch + Debian's busybox: stand-in services that answer the
#                               stack's health checks (see busybox/stand-in.sh)
#   msting-test/debian:<hash>   debootstrap'ed bookworm with PostgreSQL 15, Redis 7 and nginx
#                               (see debian/docker-entrypoint.sh)
#   msting-test/sting-python:<hash>
#                               debootstrap'ed trixie with Python 3 and the Debian packages STING-CE's
#                               chatbot and messaging service import (see sting-python/packages);
#                               tests build those services' real source on it
#
# <hash> is a hash of the image's recipe folder, so a changed recipe makes a new tag and an
# unchanged one is never rebuilt. The tags are printed and written to .cache/test-images.json
# (relative to the repository root), which the tests read.
#
# Usage: test/images/build.sh [--force] [--stack]     (root, Docker engine running: scripts/ensure-docker.sh)
#   --stack  only the images a stand-in stack runs on (busybox, debian): what scripts/quickstart.sh needs
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/.cache/test-images.json"
force=0
stack_only=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --stack) stack_only=1 ;;
    *) echo "test-images: unknown option $arg (use --force, --stack)" >&2; exit 2 ;;
  esac
done

log() { echo "test-images: $*" >&2; }

# A short hash of every file in a recipe folder (names and contents, in a stable order).
recipe_hash() {
  (cd "$here/$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# docker build with the classic builder (Debian's docker.io has no buildx); its output only on failure.
build() {
  local log_file
  log_file="$(mktemp)"
  if ! DOCKER_BUILDKIT=0 docker build "$@" >"$log_file" 2>&1; then
    cat "$log_file" >&2; rm -f "$log_file"; log "docker build failed"; exit 1
  fi
  rm -f "$log_file"
}

# The first Debian (not security) mirror the machine's apt sources name, deb822 or one-line style.
find_mirror() {
  {
    grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'
  } | grep -E '/debian/?$' | grep -v security | head -1 || true
}

work=""
cleanup() { if [ -n "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT

build_busybox() {
  local tag="$1" deb bb lib
  # Debian's dynamically linked busybox, not busybox-static: the static build's shell runs its
  # own applets before anything on PATH, so the health-check shims (wget, nc) would never run.
  work="$(mktemp -d)"
  (cd "$work" && apt-get -o APT::Sandbox::User=root download busybox >"$work/apt.log" 2>&1) || {
    cat "$work/apt.log" >&2; log "apt-get download busybox failed"; exit 1;
  }
  deb="$(ls "$work"/busybox_*.deb | head -1)"
  dpkg -x "$deb" "$work/pkg"
  bb="$work/pkg/bin/busybox"
  mkdir -p "$work/ctx/bin"
  cp -r "$here/busybox/." "$work/ctx/"
  cp "$bb" "$work/ctx/bin/busybox"
  # The C library it links, at the same paths.
  for lib in $(ldd "$bb" | grep -oE '/[^ ]+\.so[^ ]*'); do
    mkdir -p "$work/ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$work/ctx/rootfs$lib"
  done
  build -t "$tag" "$work/ctx"
  rm -rf "$work"; work=""
}

# A root file system debootstrap'ed from <recipe>/packages, imported as an image; its tag (left in
# $rootfs_tag) is the hash of the package list, so editing the recipe's Dockerfile does not run
# debootstrap again. Further arguments: paths (in the root) to remove before the import.
rootfs_tag=""
build_rootfs() {
  local recipe="$1" suite="$2" mirror pkgs base
  shift 2
  base="msting-test/$recipe-rootfs:$(sha256sum "$here/$recipe/packages" | cut -c1-12)"
  if ! have_image "$base"; then
    command -v debootstrap >/dev/null || { log "debootstrap is needed: apt-get install debootstrap"; exit 1; }
    mirror="$(find_mirror)"
    [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }
    pkgs="$(grep -vE '^\s*(#|$)' "$here/$recipe/packages" | paste -sd, -)"
    work="$(mktemp -d /var/tmp/msting-rootfs.XXXXXX)"
    log "debootstrap $suite ($pkgs) from $mirror"
    # Packages must not start services inside the chroot.
    mkdir -p "$work/rootfs/usr/sbin"
    printf '#!/bin/sh\nexit 101\n' >"$work/rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$work/rootfs/usr/sbin/policy-rc.d"
    debootstrap --variant=minbase --include="$pkgs" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
      tail -20 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1;
    }
    local path
    for path in "$@" /usr/share/doc /usr/share/man /usr/sbin/policy-rc.d; do rm -rf "$work/rootfs$path"; done
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar --numeric-owner -C "$work/rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["bash"]' \
      - "$base" >/dev/null
    rm -rf "$work"; work=""
  fi
  rootfs_tag="$base"
}

build_debian() {
  # The package's own cluster is not wanted: the entrypoint makes its own cluster.
  build_rootfs debian bookworm /var/lib/postgresql/15 /etc/postgresql/15/main
  build --build-arg "BASE=$rootfs_tag" -t "$1" "$here/debian"
}

build_sting_python() {
  build_rootfs sting-python trixie
  build --build-arg "BASE=$rootfs_tag" -t "$1" "$here/sting-python"
}

docker info >/dev/null 2>&1 || { log "no Docker engine answers; run scripts/ensure-docker.sh first"; exit 1; }

bb_tag="msting-test/busybox:$(recipe_hash busybox)"
deb_tag="msting-test/debian:$(recipe_hash debian)"
py_tag="msting-test/sting-python:$(recipe_hash sting-python)"

specs=("busybox $bb_tag" "debian $deb_tag")
[ "$stack_only" = 1 ] || specs+=("sting-python $py_tag")
for spec in "${specs[@]}"; do
  set -- $spec
  if [ "$force" = 0 ] && have_image "$2"; then
    log "$2 (present)"
    continue
  fi
  start=$(date +%s)
  case "$1" in
    busybox) build_busybox "$2" ;;
    debian) build_debian "$2" ;;
    sting-python) build_sting_python "$2" ;;
  esac
  log "$2 (built in $(($(date +%s) - start)) s)"
done

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
printf '{\n  "busybox": "%s",\n  "debian": "%s",\n  "stingPython": "%s"\n}\n' "$bb_tag" "$deb_tag" "$py_tag" >"$tmp"
mv "$tmp" "$out"
echo "$bb_tag"
echo "$deb_tag"
echo "$py_tag"
