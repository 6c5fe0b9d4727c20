#!/bin/bash
# Issue 9, item 5 / F22: a skipped socket was a warning in the manifest but
# warnings=0 in the log and result "success". The three counts now agree.
# Expect, with a Unix socket sock.s in MEDIA_DIR: `vigil backup
# --media-only` exits 3; "WARN media file sock.s: socket skipped" and
# "INFO media done ... warnings=1" in backup.log; the manifest's result and
# media result are "warning", "skipped": 1, "warnings": ["sock.s: socket
# skipped"], "warnings_total": 1. With MEDIA_EXCLUDE=sock.s: exit 0,
# warnings=0, result "success", "skipped": 1, "warnings": [],
# "warnings_total": 0. A socket named "bad\xff.s" (not UTF-8): exit 3 and
# the manifest is still valid JSON, with "warnings": ["bad?.s: socket
# skipped"] (invalid bytes shown as "?", as in error messages).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$MEDIA_DIR/sock.s" ||
	fail "cannot make a socket"
newest() { ls_manifests | sort | tail -1; }

assert_exit 3 vigil backup --media-only
assert_contains "$LOG_DIR/backup.log" 'WARN media file sock.s: socket skipped'
assert_match "$LOG_DIR/backup.log" 'INFO media done .* files=3 warnings=1 '
m=$(newest)
assert_eq warning "$(manifest_get "$m" result)" "run result"
assert_eq warning "$(manifest_get "$m" artifacts.0.result)" "media result"
assert_eq 1 "$(manifest_get "$m" artifacts.0.skipped)" "skipped"
assert_eq '["sock.s: socket skipped"]' "$(manifest_get "$m" artifacts.0.warnings)" "warnings"
assert_eq 1 "$(manifest_get "$m" artifacts.0.warnings_total)" "warnings_total"

log "excluded, the socket is no warning"
: >"$LOG_DIR/backup.log"
wait_next_second
assert_exit 0 vigil MEDIA_EXCLUDE=sock.s backup --media-only
assert_not_contains "$LOG_DIR/backup.log" 'socket skipped'
assert_match "$LOG_DIR/backup.log" 'INFO media done .* files=3 warnings=0 '
m=$(newest)
assert_eq success "$(manifest_get "$m" result)" "run result"
assert_eq 1 "$(manifest_get "$m" artifacts.0.skipped)" "skipped"
assert_eq '[]' "$(manifest_get "$m" artifacts.0.warnings)" "warnings"
assert_eq 0 "$(manifest_get "$m" artifacts.0.warnings_total)" "warnings_total"
log "a socket whose name is not UTF-8: the manifest stays valid JSON"
rm "$MEDIA_DIR/sock.s"
"$PY" -c 'import os, socket, sys; socket.socket(socket.AF_UNIX).bind(os.fsencode(sys.argv[1]) + b"\xff.s")' \
	"$MEDIA_DIR/bad" || fail "cannot make a socket"
wait_next_second
assert_exit 3 vigil backup --media-only
m=$(newest)
assert_eq '["bad?.s: socket skipped"]' "$(manifest_get "$m" artifacts.0.warnings)" "warnings"
log "F22 ok"
