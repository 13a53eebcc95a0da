#!/bin/sh
# Entrypoint of the CI postgres image: honours the official postgres image's variables
# (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, POSTGRES_HOST_AUTH_METHOD,
# POSTGRES_INITDB_ARGS, PGDATA, PGPORT) and, like it, runs `postgres` for arguments starting
# with '-'. The first start initialises PGDATA and creates POSTGRES_DB through a socket-only
# server, so a TCP connection succeeds only once the database is ready.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi
shift

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
sockets=/var/run/postgresql
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
  echo "error: set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
  exit 1
fi

mkdir -p "$PGDATA" "$sockets"
chown postgres:postgres "$PGDATA" "$sockets"
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  chown postgres "$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  as_postgres initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host="$method" --no-sync ${POSTGRES_INITDB_ARGS:-} > /dev/null
  rm -f "$pwfile"
  echo "host all all all $method" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.auto.conf"
  as_postgres pg_ctl -D "$PGDATA" -s -w \
    -o "-c listen_addresses='' -c unix_socket_directories=$sockets" start
  if [ "$db" != postgres ]; then
    as_postgres psql -q -v ON_ERROR_STOP=1 -h "$sockets" -U "$user" -d postgres \
      -c "CREATE DATABASE \"$db\""
  fi
  as_postgres pg_ctl -D "$PGDATA" -s -m fast -w stop
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -c "unix_socket_directories=$sockets" "$@"
