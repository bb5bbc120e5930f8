#!/bin/sh
# python3 for health checks: a one-liner that opens an http(s) URL succeeds when the URL answers
# 2xx. It is all a stand-in needs from Python.
url=$(printf '%s\n' "$*" | grep -o "https\?://[^'\" ,)]*" | head -1)
[ -n "$url" ] || { echo "python3 (stand-in): no URL in the command" >&2; exit 1; }
exec /usr/local/bin/wget -q -T 5 -O /dev/null "$url"
