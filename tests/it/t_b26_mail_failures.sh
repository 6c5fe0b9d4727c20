#!/bin/bash
# FIELD case B26 (the `vigil backup` part; the daemon's SIGTERM while a mail
# hangs is the notify tests'): the database is stopped, so every run fails,
# and BACKUP_NOTIFY_EMAIL=ops@example.test goes through EMAIL_HOST=127.0.0.1
#   (a) on a closed port,
#   (b) to a server that answers 535 to AUTH (over STARTTLS, test CA),
#   (c) to a listener that never says a word, EMAIL_TIMEOUT unset (30 s:
#       an attempt ends after 15 s without a byte, a greeting may be held
#       back that long on purpose; two attempts fit),
#   (d) to a catcher,
#   (e) to a server that holds its greeting back 8 s (sendmail's
#       greet_pause): libcurl counts the greeting as part of connecting,
#       so the SMTP connect timeout is the 15 s silence, not 5 s.
# Each time `vigil backup` still exits 1 with its failure manifest (I2),
# whose notifications record the mail's fate; the log names the SMTP stage
# and the code or the timeout; vigil gives up within its bound (30 s for
# (c)); (d) gets exactly one mail per failed run, naming the database and
# the error, with no password.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
it_setup
pg_server stop
test_ca
smtp_start AUTHFAIL --tls starttls --auth-fail
smtp_start SILENT --no-greet
smtp_start CATCH
smtp_start SLOW --greet-delay 8
closed=$(free_port)

base=(POSTGRES_PASSWORD=Db-Secr3t-pw MEDIA_DIR= BACKUP_NOTIFY_EMAIL=ops@example.test
	EMAIL_HOST=127.0.0.1 SSL_CERT_FILE="$TEST_CA")

# failed_run SECONDS_MAX VAR=VALUE...: `vigil backup` exits 1 within
# SECONDS_MAX with one new failure manifest ($MF), whose mail notification
# failed or was sent as $WANT says.
failed_run() {
	ls_manifests >"$T/before"
	backup_fails_within "$1" "${base[@]}" "${@:2}"
	assert_one_failure_manifest "$T/before"
	MF=$(new_manifests "$T/before")
	assert_eq db_connect "$(manifest_get "$MF" error.code)" "the run's own error"
	assert_eq mail "$(manifest_get "$MF" notifications.0.channel)" "notification channel"
	assert_eq "$WANT" "$(manifest_get "$MF" notifications.0.result)" "notification result"
	assert_not_contains "$MF" "Db-Secr3t-pw"
	assert_not_contains "$ERR" "Db-Secr3t-pw"
}

log "(a) closed port: refused, retried, 3 attempts"
WANT=failed failed_run 8 EMAIL_PORT="$closed" EMAIL_TIMEOUT=10
assert_match "$ERR" "ERROR alert not delivered: .*cannot connect to the SMTP server 127\.0\.0\.1:$closed: connection refused \(after 3 attempts\)"
assert_match "$MF" "cannot connect to the SMTP server 127\.0\.0\.1:$closed: connection refused"

log "(b) 535 to AUTH: not retried"
WANT=failed failed_run 8 EMAIL_PORT="$SMTP_PORT_AUTHFAIL" EMAIL_USE_TLS=true EMAIL_TIMEOUT=10 \
	EMAIL_HOST_USER=vigil EMAIL_HOST_PASSWORD=Mail-Secr3t-pw
assert_match "$ERR" "SMTP AUTH refused by 127\.0\.0\.1:$SMTP_PORT_AUTHFAIL: 535 \(after 1 attempt\)"
assert_eq 1 "$(grep -c . "$SMTP_DIR_AUTHFAIL/auth.log")" "(b) AUTH attempts (535 is permanent)"
assert_not_contains "$ERR" "Mail-Secr3t-pw"
assert_not_contains "$MF" "Mail-Secr3t-pw"
assert_eq 0 "$(smtp_msg_count "$SMTP_DIR_AUTHFAIL")" "(b) messages"

log "(c) a listener that never answers, EMAIL_TIMEOUT unset"
WANT=failed failed_run 33 EMAIL_PORT="$SMTP_PORT_SILENT"
# The first attempt is cut by the low-speed limit (no byte for 15 s), the
# second, 1 s later, by the 30 s deadline: no third one fits.
assert_match "$ERR" "no SMTP greeting from 127\.0\.0\.1:$SMTP_PORT_SILENT within 1[345] s \(after 2 attempts\)"
assert_eq 2 "$(grep -c . "$SMTP_DIR_SILENT/connections.log")" "(c) connections to the silent listener"

log "(d) a catcher: one mail per failed run"
for i in 1 2; do
	WANT=sent failed_run 8 EMAIL_PORT="$SMTP_PORT_CATCH"
	assert_eq "$i" "$(smtp_msg_count "$SMTP_DIR_CATCH")" "(d) messages after run $i"
	eml=$SMTP_DIR_CATCH/msg-$i.eml
	assert_contains "$eml" "Subject: [vigil] FAILED backup of app on "
	assert_contains "$eml" "Database: app"
	assert_contains "$eml" "cannot connect to database \"app\""
	assert_contains "$eml" "Run: $(basename "$MF" .json)"
	assert_not_contains "$eml" "Db-Secr3t-pw"
	wait_next_second
done

log "(e) a greeting held back 8 s: one connection, the mail goes"
WANT=sent failed_run 20 EMAIL_PORT="$SMTP_PORT_SLOW"
assert_eq 1 "$(grep -c . "$SMTP_DIR_SLOW/connections.log")" "(e) connections to the slow greeter"
assert_eq 1 "$(smtp_msg_count "$SMTP_DIR_SLOW")" "(e) messages"
assert_contains "$SMTP_DIR_SLOW/msg-1.eml" "Subject: [vigil] FAILED backup of app on "
log "ok"
