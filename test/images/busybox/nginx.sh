#!/bin/sh
# `nginx` of the stand-in: a service whose compose entrypoint is nginx itself (the frontend runs
# nginx directly, without its image's entrypoint scripts) becomes a stand-in like every other.
exec /usr/local/bin/stand-in "$@"
