#!/bin/bash
# A media swap that fails half-way in a nested layout (BACKUP_DIR inside
# MEDIA_DIR, so the swap goes on inside MEDIA_DIR/private and sets entries
# aside under .vigil-old-*/private/) is rolled back completely: exit 1,
# MEDIA_DIR as it was, and no .vigil-* left behind, so the next backup is
# clean (exit 0). A first version left the empty .vigil-old-*/private/ it
# had made, and every later backup warned about live files that might be
# missing (breaker 3). rename_shim (media_lib.sh) fails the 5th rename into
# .vigil-old- with EIO.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*
export BACKUP_DIR=$MEDIA_DIR/private/backups
mkdir -p "$BACKUP_DIR"
for n in a b c; do printf '%s\n' "$n" >"$MEDIA_DIR/$n.txt"; done
for n in p q r; do printf '%s\n' "$n" >"$MEDIA_DIR/private/$n.txt"; done
assert_exit 0 vigil backup --media-only
printf 'changed\n' >"$MEDIA_DIR/private/q.txt"
(cd "$MEDIA_DIR" && find . -path ./private/backups -prune -o -print0 | sort -z |
	xargs -0 sha256sum 2>/dev/null) >"$T/live"

rename_shim 5 eio
assert_exit 1 vigil LD_PRELOAD="$T/rename_shim.so" restore --media latest --yes --no-safety-backup
assert_output_match 'restore failed: the media directory is unchanged: cannot move .* Input/output error'
(cd "$MEDIA_DIR" && find . -path ./private/backups -prune -o -print0 | sort -z |
	xargs -0 sha256sum 2>/dev/null) >"$T/after"
diff -u "$T/live" "$T/after" || fail "MEDIA_DIR changed by a rolled-back restore"
media_no_leftovers
wait_next_second
assert_exit 0 vigil backup --media-only
assert_not_contains "$ERR" 'interrupted media restore'
log "a rolled-back nested swap leaves nothing behind"
