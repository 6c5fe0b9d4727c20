#!/bin/bash
# Issue 9 (breaker trial): `latest` must not pick a suspect media backup.
# 1. 20 files, `vigil backup --media-only`: exit 0. MEDIA_DIR is moved away,
#    an empty one made, a second backup: exit 3 (WARN ... holds no files).
#    The real directory is put back.
# 2. `vigil list`: the empty backup is first and marked "ok SUSPECT", the
#    good one plain "ok"; `list --json` gives the empty one
#    "suspect": "media directory holds no files" and the good one no such key.
# 3. `vigil restore --media latest --yes`: exit 0, WARN "<empty> is suspect
#    (...); not taken as latest", the good backup restored ("from <good>:
#    20 files"); MEDIA_DIR is byte-identical to before; no .vigil-* left.
# 4. `vigil verify latest` checks the good one (its name, "1 checked").
# 5. With only the suspect backup left (the good one removed): latest takes
#    it with WARN "only suspect media backups: taking <empty> as latest",
#    and the restore is then refused as an empty archive (exit 2), MEDIA_DIR
#    unchanged.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*
for i in $(seq 1 20); do printf 'file %s\n' "$i" >"$MEDIA_DIR/f$i.txt"; done

log "1. a good backup, then one of an unmounted (empty) volume"
assert_exit 0 vigil backup --media-only
good=$(cd "$BACKUP_DIR/media" && ls media_*.tar*[!6] | head -1)
wait_next_second
mv "$MEDIA_DIR" "$T/media.real"
mkdir "$MEDIA_DIR"
assert_exit 3 vigil backup --media-only
assert_contains "$ERR" 'holds no files'
rmdir "$MEDIA_DIR"
mv "$T/media.real" "$MEDIA_DIR"
empty=$(cd "$BACKUP_DIR/media" && ls media_*.tar* | grep -v '\.sha256$' | grep -vxF "$good")
[[ -n $good && -n $empty && $good != "$empty" ]] || fail "backups: good=$good empty=$empty"

log "2. list marks the suspect backup"
assert_exit 0 vigil list
first=$(awk 'NR == 2 {print $2}' "$OUT")
assert_eq "$empty" "$first" "newest listed"
assert_match "$OUT" "^media +$empty .* ok SUSPECT\$"
assert_match "$OUT" "^media +$good .* ok\$"
assert_exit 0 vigil list --json
"$PY" - "$OUT" "$empty" "$good" <<'PYEOF' || fail "list --json"
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))}
assert rows[sys.argv[2]]["suspect"] == "media directory holds no files", rows[sys.argv[2]]
assert "suspect" not in rows[sys.argv[3]], rows[sys.argv[3]]
PYEOF

log "3. restore --media latest takes the good backup"
tree_state "$MEDIA_DIR" >"$T/before"
assert_exit 0 vigil restore --media latest --yes
assert_contains "$ERR" "WARN $empty is suspect (media directory holds no files, by its run manifest); not taken as latest"
assert_contains "$OUT" "from $good: 20 files"
tree_state "$MEDIA_DIR" >"$T/after"
assert_tree_same "$T/before" "$T/after" "MEDIA_DIR after restoring latest"
media_no_leftovers

log "4. verify latest checks the good backup"
assert_exit 0 vigil verify latest
assert_contains "$OUT" "$good"
assert_contains "$OUT" "1 checked, 0 failed"

log "5. only the suspect backup left"
rm "$BACKUP_DIR/media/$good" "$BACKUP_DIR/media/$good.sha256"
tree_state "$MEDIA_DIR" >"$T/before"
assert_exit 2 vigil restore --media latest --yes
assert_contains "$ERR" "only suspect media backups: taking $empty as latest"
assert_contains "$ERR" "the archive holds no files: restoring it would empty MEDIA_DIR"
tree_state "$MEDIA_DIR" >"$T/after"
assert_tree_same "$T/before" "$T/after" "MEDIA_DIR after the refused restore"
media_no_leftovers
log "ok"
