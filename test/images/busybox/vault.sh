#!/bin/sh
# `vault status` of the stand-in: 0 when the stand-in answers on 8200 (unsealed), 2 otherwise,
# as the real CLI exits for a sealed Vault.
case "${1:-}" in
  status) timeout 5 busybox wget -q -O /dev/null "http://127.0.0.1:8200/v1/sys/health" && exit 0; exit 2 ;;
  *) echo "vault (stand-in): only 'status' is known" >&2; exit 1 ;;
esac
