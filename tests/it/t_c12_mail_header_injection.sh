#!/bin/bash
# Mail header injection through the database name or the prefix (hardening
# 1): a line break, another control character or DEL in POSTGRES_DB, in
# DATABASE_URL's database (%0D%0A) or in BACKUP_PREFIX is a configuration
# error (exit 2 naming the variable, the value never echoed), for
# check-config and for a backup, which then sends no mail at all. The mail
# writer also turns any control character of a header value into a space
# (tests/unit/test_mail.c header_injection).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
it_setup
smtp_start CATCH
mail=(BACKUP_NOTIFY_EMAIL=ops@example.test EMAIL_HOST=127.0.0.1 EMAIL_PORT="$SMTP_PORT_CATCH"
	BACKUP_NOTIFY_ON=always MEDIA_DIR=)

for cmd in check-config backup; do
	assert_exit 2 vigil "${mail[@]}" BACKUP_PREFIX=app \
		POSTGRES_DB=$'app\r\nBcc: victim@evil.example\r\nX-Injected: yes' "$cmd"
	assert_output_match "configuration error: POSTGRES_DB holds a control character"
	assert_exit 2 vigil "${mail[@]}" BACKUP_PREFIX=app POSTGRES_DB=$'app\nX-LF: bare' "$cmd"
	assert_output_match "configuration error: POSTGRES_DB holds a control character"
	assert_exit 2 vigil "${mail[@]}" \
		DATABASE_URL='postgresql://u:pw@127.0.0.1:1/app%0D%0AX-Injected:%20yes' "$cmd"
	assert_output_match "configuration error: the database name of DATABASE_URL holds a control character"
	assert_exit 2 vigil "${mail[@]}" BACKUP_PREFIX=$'app\x7f' "$cmd"
	assert_output_match "configuration error: BACKUP_PREFIX holds a control character"
	assert_exit 2 vigil "${mail[@]}" BACKUP_PREFIX=$'app\tx' "$cmd"
	assert_output_match "configuration error: BACKUP_PREFIX holds a control character"
done
assert_not_contains "$ERR" "Injected"
assert_eq 0 "$(smtp_msg_count "$SMTP_DIR_CATCH")" "mails sent by refused configurations"

# control: the same settings without the control characters mail a report
assert_exit 0 vigil "${mail[@]}" BACKUP_PREFIX=app backup
assert_eq 1 "$(smtp_msg_count "$SMTP_DIR_CATCH")" "mails of the good run"
assert_contains "$SMTP_DIR_CATCH/msg-1.eml" "Subject: [vigil] backup of app on "
log "ok"
