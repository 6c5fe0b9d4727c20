#!/bin/bash
# Entrypoint of the local postgres:15 stand-in (Dockerfile beside it). Like
# the official image's: with the command `postgres` (or an option), as root
# it fixes PGDATA's owner and re-executes itself as the postgres user; on an
# empty PGDATA it runs initdb with POSTGRES_USER (default postgres) and
# POSTGRES_PASSWORD (required), password authentication (scram-sha-256) from
# any address, creates POSTGRES_DB (default POSTGRES_USER), runs
# /docker-entrypoint-initdb.d/*.sql and *.sh; then postgres replaces this
# script, so it is PID 1 and gets `docker stop`'s signal. A PGDATA that
# already holds a cluster is used as it is. Not supported (unlike the
# official image): POSTGRES_INITDB_ARGS, *_FILE secrets, POSTGRES_HOST_AUTH_METHOD.
set -Eeuo pipefail

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
[[ ${1:-} == postgres ]] || exec "$@"

if [[ $(id -u) == 0 ]]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
	if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
		echo "Error: the database is uninitialized and POSTGRES_PASSWORD is not set." >&2
		exit 1
	fi
	POSTGRES_USER=${POSTGRES_USER:-postgres}
	POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--auth-local=trust --auth-host=scram-sha-256 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
	printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	# A private server on the socket only while the database is made.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	psql=(psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname postgres)
	if [[ $POSTGRES_DB != postgres ]]; then
		"${psql[@]}" --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sql) "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
		*.sh) . "$f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
