#!/bin/sh
# Stand-in for one service of the stack. Whatever command the compose file gives it, it:
#   - answers HTTP 200 {"status":"ok"} on every container port a STING-CE service listens on,
#     for every health path those services expose (/health, /health/ready, /readyz, /ready,
#     /api/health, /v1/sys/health, ...), so the rendered health checks (curl, wget or nc) pass
#     unchanged;
#   - runs as a one-shot job instead when the command is a migration (`migrate ...`, the
#     kratos-migrate job), exiting 0 as the real job does once migrated;
#   - runs the command itself when it starts with `sh`, `exec` or `--`;
#   - listens as Kratos does when the command is `serve ... --config FILE` (Kratos's): on
#     serve.public and serve.admin's host and port from that file only. A host name is resolved
#     once, at start, and only the address it names is bound, as Kratos's net.Listen does.
# Per-container switches (environment):
#   STANDIN_HEALTH=fail   answer 404 to every request, so health checks fail
#   STANDIN_EXIT=N        exit with status N right after the first lines
#   STANDIN_PORTS="..."   listen on these ports instead
set -u
name=$(hostname)
echo "stand-in $name: args: $*"
case "${1:-}" in
  migrate) echo "stand-in $name: migration done"; exit 0 ;;
  sh) exec "$@" ;;
  exec|--) shift; exec "$@" ;;
esac
if [ -n "${STANDIN_EXIT:-}" ]; then
  echo "stand-in $name: exiting with status $STANDIN_EXIT"
  exit "$STANDIN_EXIT"
fi
[ "${STANDIN_HEALTH:-ok}" = fail ] && echo "stand-in $name: health paths disabled (STANDIN_HEALTH=fail)"
ports="${STANDIN_PORTS:-80 443 1025 3000 3100 4433 4434 5050 8000 8025 8080 8081 8086 8090 8091 8200 8443 8888 8889 9080 9081}"

# serve.<side>.host and .port of a Kratos config file (as msting renders it: two-space indents).
kratos_listen() {
  awk -v side="$2" '
    /^[^ #]/ { serve = ($1 == "serve:"); inside = 0; next }
    serve && /^  [^ ]/ { inside = ($1 == side ":"); next }
    serve && inside && /^    [^ ]/ && $1 == "host:" { host = $2; gsub(/"/, "", host) }
    serve && inside && /^    [^ ]/ && $1 == "port:" { port = $2 }
    END { print (host == "" ? "0.0.0.0" : host) ":" (port == "" ? (side == "admin" ? 4434 : 4433) : port) }' "$1"
}
# An address for a host name, from the DNS server the container uses (httpd binds only addresses).
resolve() {
  case "$1" in
    *[!0-9.]*) nslookup "$1" 2>/dev/null | awk '/^Name:/ { named = 1 } named && /^Address/ { print $NF; exit }' ;;
    *) echo "$1" ;;
  esac
}
if [ "${1:-}" = serve ] && [ -z "${STANDIN_PORTS:-}" ]; then
  config=""
  prev=""
  for a in "$@"; do [ "$prev" = --config ] && config="$a"; prev="$a"; done
  if [ -n "$config" ]; then
    ports=""
    for side in public admin; do
      listen=$(kratos_listen "$config" "$side")
      host=${listen%:*}
      addr=$(resolve "$host")
      if [ -z "$addr" ]; then echo "stand-in $name: serve.$side.host $host does not resolve" >&2; exit 1; fi
      ports="$ports $addr:${listen##*:}"
    done
  fi
fi
uid=$(id -u)
# /www (answers every health path of the stack) and /www-failing (answers nothing) are made
# at build time: the root file system may be read-only at run time.
root=/www
[ "${STANDIN_HEALTH:-ok}" = fail ] && root=/www-failing
for port in $ports; do
  # Without root (compose `user:`, all capabilities dropped) ports below 1024 cannot be bound.
  [ "$uid" != 0 ] && [ "${port##*:}" -lt 1024 ] && continue
  httpd -f -p "$port" -h "$root" &
done
echo "stand-in $name: listening on $ports"
trap 'echo "stand-in $name: stopping"; kill $(jobs -p) 2>/dev/null; exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
