#!/bin/bash
# Issue 9 (breaker trial): a media archive with no regular file must not
# empty MEDIA_DIR.
# 1. A backup of an empty MEDIA_DIR (exit 3, suspect) named explicitly:
#    `vigil restore --media <it> --yes` exits 2 with "restore refused:
#    <name>: the archive holds no files: restoring it would empty MEDIA_DIR"
#    and "hint: pick another backup with vigil list, or set
#    MEDIA_ALLOW_EMPTY=true"; MEDIA_DIR byte-identical, no .vigil-* left, no
#    pre_restore_ safety copy made.
# 2. A hand-made archive of only the end-of-archive marker (1024 zero bytes,
#    sealed and named like a vigil backup): the same refusal, exit 2.
# 3. An archive holding only directories: the same refusal, exit 2.
# 4. MEDIA_ALLOW_EMPTY=true: the empty backup restores (exit 0, WARN
#    "holds no files: MEDIA_DIR ... will be emptied"), MEDIA_DIR is empty.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
keep=$T/media.real
mv "$MEDIA_DIR" "$keep"
mkdir "$MEDIA_DIR"
assert_exit 3 vigil backup --media-only
rmdir "$MEDIA_DIR"
mv "$keep" "$MEDIA_DIR"
empty=$(cd "$BACKUP_DIR/media" && ls media_*.tar* | grep -v '\.sha256$')
[[ -n $empty ]] || fail "no empty backup"
seal() { (cd "$BACKUP_DIR/media" && sha256sum "$1" >"$1.sha256"); }

refused() { # refused NAME WHAT
	tree_state "$MEDIA_DIR" >"$T/before"
	assert_exit 2 vigil restore --media "$1" --yes
	assert_contains "$ERR" "restore refused: $1: the archive holds no files: restoring it would empty MEDIA_DIR $MEDIA_DIR; hint: pick another backup with vigil list, or set MEDIA_ALLOW_EMPTY=true to restore it anyway"
	tree_state "$MEDIA_DIR" >"$T/after"
	assert_tree_same "$T/before" "$T/after" "$2"
	media_no_leftovers
	assert_count 0 "$BACKUP_DIR/media/pre_restore_*"
}

log "1. the suspect (empty) backup named explicitly"
refused "$empty" "MEDIA_DIR after refusing the empty backup"

log "2. only the end-of-archive marker"
head -c 1024 /dev/zero >"$BACKUP_DIR/media/media_20200101_000000.tar"
seal media_20200101_000000.tar
refused media_20200101_000000.tar "MEDIA_DIR after refusing the bare marker"

log "3. only directories"
mkdir -p "$T/dirs/a/b"
tar -C "$T/dirs" -cf "$BACKUP_DIR/media/media_20200101_000001.tar" .
seal media_20200101_000001.tar
refused media_20200101_000001.tar "MEDIA_DIR after refusing a tree of directories"

log "4. MEDIA_ALLOW_EMPTY=true restores it"
assert_exit 0 vigil MEDIA_ALLOW_EMPTY=true restore --media "$empty" --yes
assert_contains "$ERR" "WARN $empty holds no files: MEDIA_DIR $MEDIA_DIR will be emptied"
left=$(find "$MEDIA_DIR" -mindepth 1 ! -name '.vigil-*' | head -3)
assert_eq "" "$left" "MEDIA_DIR after MEDIA_ALLOW_EMPTY=true"
log "ok"
