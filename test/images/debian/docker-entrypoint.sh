#!/bin/bash
# One entrypoint, three servers, each behaving like its official image:
#   postgres ...      (the default; also options alone) initdb into $PGDATA on first start (POSTGRES_PASSWORD[_FILE], POSTGRES_USER,
#                     POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD), run
#                     /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz once, then run as postgres
#   redis-server ...  (or a *.conf file) run as redis in /data
#   nginx ...         nginx in the foreground unless told otherwise
#   anything else     executed as given
set -Eeo pipefail

log() { echo "entrypoint: $*" >&2; }

# VAR or VAR_FILE (never both), like the official images.
file_env() {
  local var="$1" def="${2:-}" fvar="${1}_FILE" val
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
    log "both $var and $fvar are set (they are exclusive)"; exit 1
  fi
  val="$def"
  if [ -n "${!var:-}" ]; then val="${!var}"; elif [ -n "${!fvar:-}" ]; then val="$(<"${!fvar}")"; fi
  export "$var"="$val"
  unset "$fvar"
}

as_user() {
  local user="$1"; shift
  exec setpriv --reuid="$user" --regid="$user" --init-groups "$@"
}

postgres_init() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    log "database is uninitialized and the superuser password is not set: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE)"
    exit 1
  fi
  log "initializing $PGDATA"
  local pwfile
  pwfile="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" -D "$PGDATA" $POSTGRES_INITDB_ARGS >/dev/null
  rm -f "$pwfile"
  {
    echo
    echo "host all all all $auth"
  } >>"$PGDATA/pg_hba.conf"
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$PGDATA/postgresql.conf"

  PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD" \
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
  local psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  export PGPASSWORD="$POSTGRES_PASSWORD"
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) [ -e "$f" ] && log "ignoring $f" ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  log "PostgreSQL init process complete; ready for start up"
}

# Options alone go to the default server, postgres (like the official postgres image);
# a *.conf file alone goes to redis-server (like the official redis image).
case "${1:-}" in
  -*) set -- postgres "$@" ;;
  *.conf) set -- redis-server "$@" ;;
esac

case "${1:-}" in
  postgres)
    if [ "$(id -u)" = 0 ]; then
      mkdir -p "$PGDATA" /var/run/postgresql
      chown -R postgres:postgres "$PGDATA" /var/run/postgresql
      chmod 0700 "$PGDATA"
      as_user postgres "$0" "$@"
    fi
    mkdir -p "$PGDATA" && chmod 0700 "$PGDATA" 2>/dev/null || true
    if [ ! -s "$PGDATA/PG_VERSION" ]; then postgres_init; fi
    unset POSTGRES_PASSWORD
    exec "$@"
    ;;
  redis-server)
    mkdir -p /data && cd /data
    if [ "$(id -u)" = 0 ]; then
      chown -R 999:1000 /data
      exec setpriv --reuid=999 --regid=1000 --clear-groups "$@"
    fi
    exec "$@"
    ;;
  nginx)
    if [ "$#" -eq 1 ]; then set -- nginx -g 'daemon off;'; fi
    exec "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
