#!/bin/bash
# A media restore killed (SIGKILL, a power cut) in the middle of its swap
# leaves the live entries it had set aside in MEDIA_DIR/.vigil-old-*, under
# their own paths relative to MEDIA_DIR, so the operator can move back what
# is missing (0.1.0 renamed them to 0, 1, 2... and the names were lost).
# Until that directory is dealt with, every media backup is a warning
# (exit 3) naming it: backups never archive vigil's own names, so those
# files would silently be missing from every later backup.
# rename_shim (media_lib.sh) kills vigil at its third rename into .vigil-old-*.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*
for n in alpha beta gamma delta epsilon; do printf '%s\n' "$n" >"$MEDIA_DIR/$n.txt"; done
mkdir -p "$MEDIA_DIR/photos/2026"
printf 'jpeg\n' >"$MEDIA_DIR/photos/2026/a.jpg"
assert_exit 0 vigil backup --media-only
printf 'changed after the backup\n' >"$MEDIA_DIR/alpha.txt"
tree_state "$MEDIA_DIR" >"$T/live"

rename_shim 3 kill
assert_exit 137 vigil LD_PRELOAD="$T/rename_shim.so" restore --media latest --yes --no-safety-backup

old=$(cd "$MEDIA_DIR" && ls -d .vigil-old-* 2>/dev/null | head -n 1)
[[ -n $old ]] || fail "no .vigil-old-* left by the killed swap"
# The two entries set aside keep their names, and their content is the
# live one (alpha.txt as changed after the backup).
moved=$(cd "$MEDIA_DIR/$old" && ls -A | sort | tr '\n' ' ')
assert_eq 2 "$(ls -A "$MEDIA_DIR/$old" | wc -l)" "entries set aside before the kill"
for f in $(ls -A "$MEDIA_DIR/$old"); do
	[[ -e $MEDIA_DIR/$f ]] && fail "$f is both set aside and live"
	grep -q "$f" <<<"alpha.txt beta.txt delta.txt epsilon.txt gamma.txt photos" ||
		fail "set-aside entry $f does not carry a live name ($moved)"
done
if [[ -e $MEDIA_DIR/$old/alpha.txt ]]; then
	assert_eq 'changed after the backup' "$(cat "$MEDIA_DIR/$old/alpha.txt")" "alpha.txt set aside"
fi

# Every backup now says so.
wait_next_second
assert_exit 3 vigil backup --media-only
assert_output_match "WARN media $MEDIA_DIR/\\.vigil-old-[A-Za-z0-9]+ was left by an interrupted media restore and may hold live files that this backup leaves out; hint: move back what is missing"
run=$(ls -t "$BACKUP_DIR/runs" | head -n 1)
assert_contains "$BACKUP_DIR/runs/$run" ': left by an interrupted media restore; live files in it are not in this backup'
assert_match "$ERR" 'INFO media done .* warnings=1 '

# Moving the entries back by hand, as the hint says, restores the live tree.
(cd "$MEDIA_DIR/$old" && for f in $(ls -A); do mv "$f" "$MEDIA_DIR/$f"; done)
rmdir "$MEDIA_DIR/$old"
rm -rf "$MEDIA_DIR"/.vigil-restore-* # the killed restore's staging (a later restore removes it)
# (the root's own mtime moved with the renames; every entry below is as it was)
tree_state "$MEDIA_DIR" | grep -v '^\. ' >"$T/after"
grep -v '^\. ' "$T/live" >"$T/live.entries"
assert_tree_same "$T/live.entries" "$T/after" "MEDIA_DIR after moving the set-aside entries back"
wait_next_second
assert_exit 0 vigil backup --media-only
log "a killed swap leaves names an operator can move back"
