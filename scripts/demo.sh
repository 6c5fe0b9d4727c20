#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# scripts/demo.sh (`make demo`): vigil end to end on this machine, no Docker.
#
# Starts a throwaway PostgreSQL 15 cluster (tests/it/lib.sh), loads a small
# Spanish asset-registry database (scripts/demo-data.sql), makes a media tree
# (scripts/make-demo-media.sh), then runs: check-config, backup, list,
# verify latest; damages the data (deletes rows and a media file) and runs
# `restore --db latest --media latest --yes`, proving the rows and the file
# came back. Everything lives under temp dirs and is removed at exit
# (DEMO_KEEP=1 keeps them). Exits non-zero as soon as a step fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[[ ${DEMO_KEEP:-0} == 1 ]] && export IT_KEEP=1
# shellcheck source=tests/it/lib.sh
. "$here/../tests/it/lib.sh"
IT_VIGIL_TIMEOUT=${IT_VIGIL_TIMEOUT:-300}

step() { printf '\n==> %s\n' "$*"; }
die() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	exit 1
}
# run CMD...: show and run a command; stop the demo if it fails.
run() {
	local rc
	printf '$ %s\n' "$*"
	"$@"
	rc=$?
	((rc == 0)) || die "'$*' exited $rc"
}
counts() {
	sql "SELECT 'registry_asset', count(*) FROM registry_asset
	     UNION ALL SELECT 'registry_mantenimiento', count(*) FROM registry_mantenimiento
	     UNION ALL SELECT 'registry_location', count(*) FROM registry_location" |
		awk -F'|' '{ printf "    %-24s %6d rows\n", $1, $2 }'
}

[[ -x $VIGIL ]] || die "no binary at $VIGIL (run: make)"

step "start a throwaway PostgreSQL 15 cluster"
pg_start
vigil_env
rm -rf "$MEDIA_DIR"

step "load the demo database (scripts/demo-data.sql)"
sql -f "$here/demo-data.sql" >/dev/null || die "loading demo-data.sql failed"
counts
sql "SELECT codigo, nombre, metadatos->>'proveedor' FROM registry_asset ORDER BY id LIMIT 3" |
	sed 's/^/    /'

step "make the media tree (scripts/make-demo-media.sh)"
bash "$here/make-demo-media.sh" "$MEDIA_DIR" || die "make-demo-media.sh failed"
echo "    $(find "$MEDIA_DIR" -type f | wc -l) files, $(du -sh "$MEDIA_DIR" | cut -f1) in $MEDIA_DIR"

cat <<EOF

    vigil's environment:
      POSTGRES_HOST=$POSTGRES_HOST POSTGRES_PORT=$POSTGRES_PORT POSTGRES_DB=$POSTGRES_DB
      POSTGRES_USER=$POSTGRES_USER POSTGRES_PASSWORD=(random)
      BACKUP_DIR=$BACKUP_DIR
      LOG_DIR=$LOG_DIR
      MEDIA_DIR=$MEDIA_DIR
      HTTP_LISTEN=$HTTP_LISTEN TZ=$TZ
EOF

step "vigil check-config"
run vigil check-config

step "vigil backup"
run vigil backup </dev/null

step "vigil list"
run vigil list

step "vigil verify latest"
run vigil verify latest </dev/null

step "damage the data: delete assets 'de_baja' and a media file"
victim="Año_2024/señal_ñandú.jpg"
sum_before=$(sha256sum <"$MEDIA_DIR/$victim")
sql "DELETE FROM registry_asset WHERE estado = 'de_baja'" >/dev/null || die "delete failed"
rm -f "$MEDIA_DIR/$victim"
counts
echo "    $victim: $([[ -e $MEDIA_DIR/$victim ]] && echo present || echo deleted)"

step "vigil restore --db latest --media latest --yes"
run vigil restore --db latest --media latest --yes </dev/null

step "check the restore"
counts
n=$(sql "SELECT count(*) FROM registry_asset")
[[ $n == 3000 ]] || die "registry_asset has $n rows after the restore, expected 3000"
[[ -f $MEDIA_DIR/$victim ]] || die "$victim was not restored"
[[ $(sha256sum <"$MEDIA_DIR/$victim") == "$sum_before" ]] || die "$victim differs after the restore"
echo "    $victim: restored, same sha256"
echo "    safety copies the restore took of what it replaced:"
find "$BACKUP_DIR" -name 'pre_restore_*' -printf '      %P (%s bytes)\n' | sort

step "files in BACKUP_DIR"
find "$BACKUP_DIR" -type f ! -name '.*' -printf '    %P  %s bytes\n' | sort

printf '\ndemo: ok\n'
