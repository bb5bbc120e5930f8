#!/usr/bin/env bash
# Build STING-CE's chatbot and messaging service from a STING-CE source tree, on the local
# msting-test/sting-python image (test/images/build.sh makes it): STING-CE's own code, with its
# Python dependencies from Debian packages, so no registry is needed.
#
#   msting-test/sting-ce-chatbot:<hash>    chatbot.Dockerfile, context <tree>/STING
#   msting-test/sting-ce-messaging:<hash>  messaging.Dockerfile, context <tree>/STING/messaging_service
#
# <hash> covers the base image, the Dockerfile and every file of the service's source, so an
# unchanged tree is never rebuilt. Prints `chatbot <tag>` and `messaging <tag>`.
#
# Usage: test/images/sting-ce/build.sh <sting-python image> [<STING-CE tree>]
#        (the tree defaults to $STING_CE_SRC: a STING-CE checkout, or its STING/ folder)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "sting-ce-images: $*" >&2; }

base="${1:-}"
tree="${2:-${STING_CE_SRC:-}}"
[ -n "$base" ] || { log "usage: $0 <sting-python image> [<STING-CE tree>]"; exit 2; }
[ -n "$tree" ] || { log "no STING-CE tree: pass one, or set STING_CE_SRC"; exit 2; }
if [ -d "$tree/STING/chatbot" ]; then sting="$tree/STING"
elif [ -d "$tree/chatbot" ]; then sting="$tree"
else log "$tree is not a STING-CE tree (no STING/chatbot or chatbot folder)"; exit 2
fi
[ -f "$sting/messaging_service/server.py" ] || { log "$sting/messaging_service/server.py is missing"; exit 2; }
docker image inspect "$base" >/dev/null 2>&1 || { log "$base is not built: run test/images/build.sh"; exit 1; }

# A short hash of the base image id, a Dockerfile and the files of some folders of the tree.
source_hash() {
  local dockerfile="$1" dir="$2"
  shift 2
  {
    docker image inspect --format '{{.Id}}' "$base"
    sha256sum <"$dockerfile"
    (cd "$dir" && find "$@" -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
}

build() {
  local tag="$1" log_file
  shift
  if docker image inspect "$tag" >/dev/null 2>&1; then log "$tag (present)"; return; fi
  log_file="$(mktemp)"
  local start
  start=$(date +%s)
  if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$base" -t "$tag" "$@" >"$log_file" 2>&1; then
    cat "$log_file" >&2; rm -f "$log_file"; log "docker build of $tag failed"; exit 1
  fi
  rm -f "$log_file"
  log "$tag (built in $(($(date +%s) - start)) s)"
}

chatbot="msting-test/sting-ce-chatbot:$(source_hash "$here/chatbot.Dockerfile" "$sting" chatbot conf)"
messaging="msting-test/sting-ce-messaging:$(source_hash "$here/messaging.Dockerfile" "$sting/messaging_service" .)"
build "$chatbot" -f "$here/chatbot.Dockerfile" "$sting"
build "$messaging" -f "$here/messaging.Dockerfile" "$sting/messaging_service"
echo "chatbot $chatbot"
echo "messaging $messaging"
