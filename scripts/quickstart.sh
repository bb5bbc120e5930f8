#!/usr/bin/env bash
# Quick start on this machine: a Docker engine with Compose v2, then `msting install`.
#
# Where the STING-CE images cannot be pulled (an offline or air-gapped host), it builds local
# images instead (real PostgreSQL and Redis, a Vault API emulator, stand-ins answering the other
# services' health checks) and points `images.overrides` at them, the same way a site with its
# own mirror does. Set MSTING_HOME to install somewhere other than msting's default.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
msting() { node "$root/bin/msting.js" "$@"; }

[ -f dist/cli.js ] || npm run build
bash scripts/ensure-docker.sh >/dev/null

config=$(msting config path --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).config))')
[ -f "$config" ] || msting config init

if ! timeout 60 docker pull -q postgres:16 >/dev/null 2>&1; then
  echo "quickstart: images cannot be pulled here; building local images for an offline install" >&2
  bash test/images/build.sh --stack >/dev/null
  busybox=$(node -p 'require("./.cache/test-images.json").busybox')
  debian=$(node -p 'require("./.cache/test-images.json").debian')
  vault=$(bash test/vault-emulator/build-image.sh | tail -1)
  msting config set images.overrides.vault "$vault" >/dev/null
  msting config set images.overrides.db "$debian" >/dev/null
  msting config set images.overrides.redis "$debian" >/dev/null
  for service in kratos-migrate kratos mailpit app frontend messaging chroma knowledge; do
    msting config set "images.overrides.$service" "$busybox" >/dev/null
  done
fi

msting install --profile default --yes --skip-models
msting status
