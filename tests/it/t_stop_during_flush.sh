#!/bin/bash
# A SIGTERM that arrives while the compressor works (at zstd's high levels
# most of the work happens in the final flush, after every byte was read)
# stops the run within Docker's 10 s grace period: exit 143, no media file
# under a final name, an "interrupted" failure manifest. 0.1.0 committed
# the file and exited 0; a first fix still waited minutes for libzstd's
# worker threads to finish their jobs (ZSTD_freeCCtx) at level 22.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/media_lib.sh"
media_only_env
rm -rf "${MEDIA_DIR:?}"/*
head -c 36M /dev/urandom | base64 >"$MEDIA_DIR/big.txt" # compressible: slow at level 22

env BACKUP_COMPRESSION=zstd BACKUP_COMPRESSION_LEVEL=22 BACKUP_THREADS=2 \
	"$VIGIL" backup --media-only </dev/null >"$T/out" 2>"$T/err" &
pid=$!
# the whole file is read within a moment; then only the flush runs
sleep 1.5
kill -0 "$pid" 2>/dev/null || fail "the backup ended before the signal (machine too fast for this test)"
t0=$(now_us)
kill -TERM "$pid"
wait "$pid"
rc=$?
ms=$((($(now_us) - t0) / 1000))
log "exit $rc ${ms} ms after SIGTERM"
cat "$T/err"
assert_eq 143 "$rc" "exit status after SIGTERM during the flush"
((ms < 8000)) || fail "the stop took ${ms} ms, past what Docker's 10 s grace period leaves"
assert_contains "$T/err" 'stopped by signal 15'
assert_no_file "$BACKUP_DIR/media/media_*"
assert_no_file "$BACKUP_DIR/media/.vigil-tmp-*"
run=$(ls -t "$BACKUP_DIR/runs" | head -n 1)
assert_eq interrupted "$(manifest_get "$BACKUP_DIR/runs/$run" artifacts.0.error.code)" "error code"
log "a stop request during the flush is taken"
