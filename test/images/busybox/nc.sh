#!/bin/sh
# busybox nc with `-z` (connect and close, exit 0 when the port accepts), which the busybox
# build lacks and health checks often use.
zero=0
args=""
for a in "$@"; do
  case "$a" in
    -z) zero=1 ;;
    -zv|-vz) zero=1 ;;
    -v) ;;
    *) args="$args '$(printf %s "$a" | sed "s/'/'\\\\''/g")'" ;;
  esac
done
if [ "$zero" = 1 ]; then
  eval "exec busybox nc -w 2 $args" </dev/null >/dev/null
fi
eval "exec busybox nc $args"
