#!/bin/bash
# One refused recipient does not cancel the alert mail (hardening 4): with
# BACKUP_NOTIFY_EMAIL="bad@example.org,ops@example.org" and a server that
# answers 550 to RCPT TO:<bad@example.org> only, ops@example.org gets the
# mail (libcurl's CURLOPT_MAIL_RCPT_ALLLOWFAILS), the outcome is "sent" and
# a WARN names the refused recipient and its code. When every recipient is
# refused, the mail fails, naming the 550.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
it_setup
smtp_start R --reject-rcpt-to bad@example.org
mail=(EMAIL_HOST=127.0.0.1 EMAIL_PORT="$SMTP_PORT_R" EMAIL_TIMEOUT=10)

log "one of two recipients refused: the other gets the mail"
assert_exit 0 vigil "${mail[@]}" BACKUP_NOTIFY_EMAIL="bad@example.org, ops@example.org" notify --test
assert_output_match "^mail sent$"
assert_output_match "WARN mail sent through 127\.0\.0\.1, but 1 of 2 recipients was refused by the server: bad@example\.org \(550\); the others got it"
assert_eq 1 "$(smtp_msg_count "$SMTP_DIR_R")" "messages"
assert_eq '["ops@example.org"]' "$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["rcpt_tos"]))' "$SMTP_DIR_R/msg-1.json")" "envelope recipients"
assert_contains "$SMTP_DIR_R/msg-1.eml" "To: bad@example.org, ops@example.org"

log "every recipient accepted: no WARN"
assert_exit 0 vigil "${mail[@]}" BACKUP_NOTIFY_EMAIL="ops@example.org,it@example.org" notify --test
assert_output_match "^mail sent$"
grep -q "refused by the server" "$OUT" "$ERR" && fail "a WARN about refused recipients when none was"
assert_eq 2 "$(smtp_msg_count "$SMTP_DIR_R")" "messages"

log "the only recipient refused: the mail fails"
assert_exit 1 vigil "${mail[@]}" BACKUP_NOTIFY_EMAIL=bad@example.org notify --test
assert_output_match "^mail failed: .*127\.0\.0\.1:$SMTP_PORT_R.*550"
assert_eq 2 "$(smtp_msg_count "$SMTP_DIR_R")" "messages"
log "ok"
