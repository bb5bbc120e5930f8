#!/bin/sh
# bash for health checks: `: > /dev/tcp/HOST/PORT` (a TCP connect test, which busybox sh lacks)
# becomes `nc -z HOST PORT`; anything else runs under busybox sh.
if [ "${1:-}" = -c ]; then
  case "${2:-}" in
    *'/dev/tcp/'*)
      target=$(printf %s "$2" | sed -n 's|.*/dev/tcp/\([^/ ]*\)/\([0-9]*\).*|\1 \2|p')
      set -- $target
      exec /usr/local/bin/nc -z "$1" "$2"
      ;;
  esac
fi
exec /bin/sh "$@"
