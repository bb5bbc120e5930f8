#!/bin/sh
# `/mailpit readyz` of the stand-in: asks the web port like the real binary does.
case "${1:-}" in
  readyz) exec timeout 5 busybox wget -q -O /dev/null "http://127.0.0.1:8025/readyz" ;;
  *) exec /usr/local/bin/stand-in "$@" ;;
esac
