#!/usr/bin/env bash
# Build msting-test/vault-emulator:<hash> from this folder: the compiled emulator on the host's
# node binary (plus the libraries `ldd` names) and a static busybox. Prints the tag.
# Usage: test/vault-emulator/build-image.sh        (Docker engine running; busybox-static installed)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
node_bin="$(command -v node)"
bb="$(command -v busybox || true)"
[ -n "$bb" ] && ! ldd "$bb" >/dev/null 2>&1 || { echo "vault-emulator image: a static busybox is needed (apt-get install busybox-static)" >&2; exit 1; }

node "$root/node_modules/typescript/bin/tsc" -p "$here/tsconfig.json"
hash="$( (cd "$here" && find . -type f -name '*.ts' -o -name Dockerfile -o -name '*.sh' | LC_ALL=C sort | xargs sha256sum; sha256sum "$node_bin") | sha256sum | cut -c1-12)"
tag="msting-test/vault-emulator:$hash"
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/usr/bin" "$work/bin" "$work/emulator"
cp "$node_bin" "$work/rootfs/usr/bin/node"
# The node binary's shared libraries, at the paths the loader looks for them.
for lib in $(ldd "$node_bin" | grep -oE '/[^ ]+'); do
  mkdir -p "$work/rootfs$(dirname "$lib")"
  cp -L "$lib" "$work/rootfs$lib"
done
cp "$bb" "$work/bin/busybox"
cp "$root"/.cache/vault-emulator/*.js "$work/emulator/"
echo '{"type":"module"}' > "$work/emulator/package.json"
cp "$here/Dockerfile" "$here/vault-status.sh" "$work/"
docker build -q -t "$tag" "$work" >&2
echo "$tag"
