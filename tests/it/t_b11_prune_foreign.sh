#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# FIELD-CASES B11: retention touches only vigil's own names (README
# "Retention"). BACKUP_RETENTION_DAYS=7, BACKUP_KEEP_MIN=1. vigil's own
# backups of 2020-01-01 and 2020-01-02 (real runs under libfaketime) sit
# beside foreign files with 2020 mtimes: README.txt, <prefix>_manual.sql.gz,
# <prefix>_v2_20200101_030000.sql.gz, <own name>.bak, .last-success,
# media_old.tar.gz, and a look-alike that differs in one character.
# `vigil prune --dry-run` on 2020-02-01 prints exactly the expected lines;
# then `vigil backup` deletes vigil's own old files and their .sha256 (and
# the 2020-01-01 run manifest, which then records nothing on disk) and
# nothing else: every other file is byte-identical. Done for BACKUP_PREFIX
# my_app and shop-prod.v2 (a dot: no pattern may read it as "any character").
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
[[ -r $FAKETIME_LIB ]] || fail "libfaketime missing (package faketime)"
it_setup
export BACKUP_RETENTION_DAYS=7 BACKUP_KEEP_MIN=1

# round PREFIX LOOKALIKE: one BACKUP_DIR, the whole scenario.
round() {
	local prefix=$1 look=$2 f
	export BACKUP_PREFIX=$prefix BACKUP_DIR=$T/backups-$prefix
	assert_exit 0 vigil FAKETIME="@2020-01-01 03:00:00" backup
	assert_exit 0 vigil FAKETIME="@2020-01-02 03:00:00" backup
	for f in README.txt "${prefix}_manual.sql.gz" "${prefix}_v2_20200101_030000.sql.gz" \
		"${prefix}_20200101_030000.sql.gz.bak" .last-success "$look" "$look.sha256"; do
		printf 'foreign %s\n' "$f" >"$BACKUP_DIR/db/$f"
	done
	printf 'foreign\n' >"$BACKUP_DIR/media/media_old.tar.gz"
	find "$BACKUP_DIR/db" "$BACKUP_DIR/media" -type f -exec touch -d '2020-01-01 03:00:00' {} +
	(cd "$BACKUP_DIR" && for f in db/* db/.last-success media/media_old.tar.gz; do
		case ${f#db/} in
		"${prefix}_2020010"[12]_030000.sql.gz | "${prefix}_2020010"[12]_030000.sql.gz.sha256) continue ;;
		esac
		sha256sum "$f"
	done) >"$T/foreign"
	[[ $(wc -l <"$T/foreign") == 8 ]] || fail "expected 8 foreign files: $(cat "$T/foreign")"

	assert_exit 0 vigil FAKETIME="@2020-02-01 03:00:00" prune --dry-run
	grep -E '^(KEEP|DELETE|FAILED) ' "$OUT" | tr -s ' ' >"$T/plan"
	cat >"$T/want" <<-EOF
		KEEP db/${prefix}_20200102_030000.sql.gz newest 1 good backup (BACKUP_KEEP_MIN)
		DELETE db/${prefix}_20200101_030000.sql.gz older than 7 days (31 days old)
		KEEP media/media_20200102_030000.tar.gz newest 1 good backup (BACKUP_KEEP_MIN)
		DELETE media/media_20200101_030000.tar.gz older than 7 days (31 days old)
		DELETE runs/20200101_030000.json run manifest older than 30 days (31 days old) whose files are all gone or deleted now
	EOF
	diff "$T/want" "$T/plan" || fail "dry run plan for prefix $prefix"
	assert_contains "$OUT" "dry run: 3 to delete"
	assert_contains "$OUT" "the clock or the schedule looks wrong"
	assert_file "$BACKUP_DIR/db/${prefix}_20200101_030000.sql.gz"

	assert_exit 0 vigil FAKETIME="@2020-02-01 03:00:00" backup
	(cd "$BACKUP_DIR" && sha256sum -c --quiet "$T/foreign") || fail "a foreign file changed or vanished"
	(cd "$BACKUP_DIR" && find db media -type f | sort | grep -vxF -f <(awk '{print $2}' "$T/foreign")) >"$T/own"
	cat >"$T/want" <<-EOF
		db/${prefix}_20200201_030000.sql.gz
		db/${prefix}_20200201_030000.sql.gz.sha256
		media/media_20200201_030000.tar.gz
		media/media_20200201_030000.tar.gz.sha256
	EOF
	diff "$T/want" "$T/own" || fail "own files after the backup (prefix $prefix)"
	assert_eq 4 "$(manifest_get "$BACKUP_DIR/runs/20200201_030000.json" pruned | "$PY" -c \
		'import json,sys; print(len(json.load(sys.stdin)))')" "pruned entries"
	assert_file "$BACKUP_DIR/db/.last-success"
	[[ ! -e $BACKUP_DIR/runs/20200101_030000.json ]] || fail "the 2020-01-01 run manifest was kept"
	assert_file "$BACKUP_DIR/runs/20200102_030000.json"
}

round my_app my_apq_20200101_030000.sql.gz
round shop-prod.v2 shop-prodXv2_20200101_030000.sql.gz
log "B11 ok"
