#!/bin/sh
# Stand-in for one service of the stack. Whatever command the compose file gives it, it:
#   - answers every HTTP request with 200 {"status":"ok"} on every container port a STING-CE
#     service listens on, so the rendered health checks (curl, wget or nc against /health,
#     /admin/health/ready, /v1/sys/health, ...) pass unchanged;
#   - runs as a one-shot job instead when the command is a migration (`migrate ...`, the
#     kratos-migrate job), exiting 0 as the real job does once migrated;
#   - runs the command itself when it starts with `sh`, `exec` or `--`.
# Per-container switches (environment):
#   STANDIN_HEALTH=fail   answer 503 to every request, so health checks fail
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
[ "${STANDIN_HEALTH:-ok}" = fail ] && echo "stand-in $name: answering 503 (STANDIN_HEALTH=fail)"
ports="${STANDIN_PORTS:-80 443 1025 3000 3100 4433 4434 5050 8000 8025 8080 8081 8086 8090 8200 8443 8888 8889 9080 9081}"
uid=$(id -u)
for port in $ports; do
  # Without root (compose `user:`, all capabilities dropped) ports below 1024 cannot be bound.
  [ "$uid" != 0 ] && [ "$port" -lt 1024 ] && continue
  nc -ll -p "$port" -e /usr/local/bin/stand-in-http &
done
echo "stand-in $name: listening on $ports"
trap 'echo "stand-in $name: stopping"; kill $(jobs -p) 2>/dev/null; exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
