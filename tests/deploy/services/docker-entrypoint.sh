#!/bin/bash
# What the public postgres image's entry point does that deploy/compose relies on: as root,
# initialise an empty data directory with POSTGRES_USER, POSTGRES_DB and the password in
# POSTGRES_PASSWORD_FILE, then run postgres as its own user. Any other command runs as is.
set -euo pipefail
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
if [ "${1:-}" = postgres ]; then
    chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        port="${PGPORT:-5432}"
        install -m 0600 -o postgres /dev/null /tmp/pwfile
        cat "$POSTGRES_PASSWORD_FILE" >/tmp/pwfile
        as_postgres initdb --username="$POSTGRES_USER" --pwfile=/tmp/pwfile \
            --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
        rm -f /tmp/pwfile
        as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p $port" -w start >/dev/null
        as_postgres psql -v ON_ERROR_STOP=1 -p "$port" -U "$POSTGRES_USER" -d postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
        as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
