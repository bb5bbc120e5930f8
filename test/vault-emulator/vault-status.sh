#!/bin/sh
# `vault status` of the emulator image, for the stack's health check: exit 0 unsealed, 2 sealed
# (or not initialized), 1 when nothing answers — the exit codes of the real `vault status`.
case "${1:-}" in
  status) ;;
  *) echo "vault (emulator image): only 'status' is known" >&2; exit 1 ;;
esac
addr="${VAULT_ADDR:-http://127.0.0.1:8200}"
body="$(wget -q -O - "$addr/v1/sys/seal-status" 2>/dev/null)" || exit 1
case "$body" in
  *'"sealed":false'*) echo "Sealed false"; exit 0 ;;
  *) echo "Sealed true"; exit 2 ;;
esac
