#!/bin/sh
# busybox wget for health checks: https:// is asked over http:// (the stand-in serves plain
# HTTP on every port), TLS options it does not know are dropped, and the timeout option is
# applied with timeout(1) because busybox wget -T crashes in this static build.
limit=30
args=""
while [ $# -gt 0 ]; do
  a="$1"
  case "$a" in
    --no-check-certificate|--no-verbose|--tries=*) shift; continue ;;
    -T|--timeout) limit="$2"; shift 2; continue ;;
    -T*) limit="${a#-T}"; shift; continue ;;
    --timeout=*) limit="${a#--timeout=}"; shift; continue ;;
    https://*) a="http://${a#https://}" ;;
  esac
  args="$args '$(printf %s "$a" | sed "s/'/'\\\\''/g")'"
  shift
done
eval "exec timeout $limit busybox wget $args"
