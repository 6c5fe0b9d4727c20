#!/bin/bash
# shellcheck disable=SC2016,SC2119 # bodies in single quotes; lib functions take optional args
# FIELD-CASES C11: the secrets in alert settings stay secret (invariant I5,
# README "Alerts"): a webhook URL's userinfo and query values, a ping URL's
# last segment (the check's UUID), the SMTP password and, beside them, an S3
# secret key. VIGIL_DEBUG=1 (the most verbose log level) throughout.
#
#  1. database stopped, the webhook at a closed port
#     (http://hookuser:HookPw%21@127.0.0.1:9/hook?token=TOKsecret123), the
#     ping URL .../ping/0b1e5c1e-secret-uuid answering 500, mail through a
#     server that answers AUTH with 535: `vigil backup` exit 1, each channel
#     "failed" in the manifest, an ERROR line per channel with the redacted
#     URL ("token=***", "ping/***").
#  2. the same with a recording SMTP server (AUTH accepted), webhook and
#     ping at recorders: a failure mail, a webhook body and a ping body are
#     captured (the webhook's query token is still sent: it is the server's).
#  3. a daemon over those manifests: /metrics and /healthz; check-config
#     shows both URLs with "***" in place of the secret parts.
#  4. database up, pg_dump blocked on a table lock, BACKUP_NOTIFY_ON=always:
#     /proc/<pg_dump>/cmdline and environ hold none of the secrets nor the
#     alert and S3 variables; after the lock goes the run succeeds and its
#     success mail is captured.
#  5. BACKUP_PING_URL=.../<uuid>/ (a trailing slash) and a Slack-style
#     BACKUP_WEBHOOK_URL=.../services/T0000/B0000/<24-character token>:
#     check-config and `vigil notify --test` show "***" for the UUID and the
#     token (path segments of 16 or more characters, and the ping URL's last
#     non-empty one), "/log" and "T0000/B0000" stay.
#  Then none of HookPw, hookuser, TOKsecret123, 0b1e5c1e-secret-uuid, MailPw
#  or S3secretXYZ appears in any command's stdout or stderr, LOG_DIR, the
#  run manifests, the captured mails, webhook and ping bodies, /metrics,
#  /healthz or check-config. (The SMTP server's auth.log and the request
#  lines a server received are the receiving side, not vigil's output.)
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
it_setup
SECRETS=(HookPw hookuser TOKsecret123 0b1e5c1e-secret-uuid MailPw S3secretXYZ)
export VIGIL_DEBUG=1 BACKUP_NOTIFY_TIMEOUT=3 EMAIL_TIMEOUT=5 S3_SECRET_ACCESS_KEY=S3secretXYZ
export BACKUP_NOTIFY_EMAIL=ops@example.org EMAIL_HOST=127.0.0.1 EMAIL_HOST_USER=mailuser
export EMAIL_HOST_PASSWORD='MailPw!' EMAIL_ALLOW_PLAIN_AUTH=true
OUTS=$T/outputs
mkdir -p "$OUTS"

# notice FILE CHANNEL: that channel's result in the manifest.
notice() {
	"$PY" -c 'import json,sys
for n in json.load(open(sys.argv[1])).get("notifications", []):
    if n["channel"] == sys.argv[2]: print(n["result"])' "$1" "$2"
}
last_manifest() { ls_manifests | sort | tail -n 1; }
# body REQ_JSON OUT: the body of a recorded request into OUT.
body() { "$PY" -c 'import json,sys; open(sys.argv[2],"w").write(json.load(open(sys.argv[1]))["body"])' "$1" "$2"; }

# ---------------------------------------------------------------- 1.
log "1. database stopped, every channel fails"
smtp_start s535 --auth-fail
http_start p500 status:500
export BACKUP_WEBHOOK_URL='http://hookuser:HookPw%21@127.0.0.1:9/hook?token=TOKsecret123'
export BACKUP_PING_URL=$HTTP_L_URL_p500/ping/0b1e5c1e-secret-uuid
pg_server stop
assert_exit 1 vigil EMAIL_PORT="$SMTP_PORT_s535" backup
mf=$(last_manifest)
for ch in mail webhook ping; do
	assert_eq failed "$(notice "$mf" "$ch")" "$ch notice of run 1"
done
assert_output_match 'ERROR .*webhook.*127\.0\.0\.1:9/hook\?token=\*\*\*'
assert_output_match "ERROR .*ping.*/ping/\*\*\*"
assert_output_match 'ERROR .*mail.*535'
grep -q '^POST /ping/0b1e5c1e-secret-uuid/fail$' "$HTTP_L_DIR_p500/requests.log" || fail "no ping /fail attempt"
grep -qx 'POST /ping/0b1e5c1e-secret-uuid' "$HTTP_L_DIR_p500/requests.log" && fail "a failed run pinged the plain URL"
grep -q '"password"' "$SMTP_DIR_s535/auth.log" || fail "the 535 server saw no AUTH attempt"

# ---------------------------------------------------------------- 2.
log "2. the same, with recorders: capture the mail, webhook and ping bodies"
smtp_start rec --auth 'mailuser:MailPw!'
http_start hook record
http_start ping record
wait_next_second
assert_exit 1 vigil EMAIL_PORT="$SMTP_PORT_rec" \
	BACKUP_WEBHOOK_URL="http://hookuser:HookPw%21@127.0.0.1:$HTTP_L_PORT_hook/hook?token=TOKsecret123" \
	BACKUP_PING_URL="$HTTP_L_URL_ping/ping/0b1e5c1e-secret-uuid" backup
mf=$(last_manifest)
for ch in mail webhook ping; do
	assert_eq sent "$(notice "$mf" "$ch")" "$ch notice of run 2"
done
assert_file "$SMTP_DIR_rec/msg-1.eml"
cp "$SMTP_DIR_rec/msg-1.eml" "$OUTS/mail-failure.eml"
assert_eq "POST /hook?token=TOKsecret123" "$(cat "$HTTP_L_DIR_hook/requests.log")" "webhook request line"
body "$HTTP_L_DIR_hook/req-1.json" "$OUTS/webhook-body.json"
body "$HTTP_L_DIR_ping/req-2.json" "$OUTS/ping-body.txt"
assert_contains "$OUTS/webhook-body.json" '"result"'
assert_contains "$OUTS/ping-body.txt" 'failure'
pg_server start

# ---------------------------------------------------------------- 3.
log "3. /metrics, /healthz, check-config"
daemon_spawn d vigil serve
http /metrics
cp "$T/http.body" "$OUTS/metrics.txt"
assert_contains "$OUTS/metrics.txt" 'vigil_notification_failures_total{channel="webhook"} 1'
http /healthz
cp "$T/http.body" "$OUTS/healthz.json"
daemon_stop
cp "$DLOG" "$OUTS/daemon.log"
assert_exit 0 vigil check-config
cp "$OUT" "$OUTS/check-config.txt"
assert_contains "$OUTS/check-config.txt" 'BACKUP_WEBHOOK_URL=http://***:***@127.0.0.1:9/hook?token=***'
assert_contains "$OUTS/check-config.txt" "BACKUP_PING_URL=$HTTP_L_URL_p500/ping/***"
assert_contains "$OUTS/check-config.txt" 'EMAIL_HOST_PASSWORD=***'

# ---------------------------------------------------------------- 4.
log "4. pg_dump blocked on a lock: its argv and environment"
http_start hook4 record
lock_items
wait_next_second
env BACKUP_NOTIFY_ON=always EMAIL_PORT="$SMTP_PORT_rec" \
	BACKUP_WEBHOOK_URL="$HTTP_L_URL_hook4/hook?token=TOKsecret123" \
	timeout -k 5 60 "$VIGIL" backup >"$OUTS/run4.out" 2>"$OUTS/run4.err" &
BPID=$!
wait_until 20 "pg_dump to wait on the table lock" vigil_waiting
dump=
for p in $(pgrep -x pg_dump); do
	tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "PGPORT=$PGPORT_T" && dump=$p
done
[[ -n $dump ]] || fail "no pg_dump of this test's cluster found"
tr '\0' '\n' <"/proc/$dump/cmdline" >"$OUTS/pg_dump.cmdline"
tr '\0' '\n' <"/proc/$dump/environ" >"$OUTS/pg_dump.environ"
log "pg_dump pid $dump: $(paste -sd' ' "$OUTS/pg_dump.cmdline")"
assert_contains "$OUTS/pg_dump.environ" "PGPASSWORD="
for v in BACKUP_WEBHOOK_URL BACKUP_PING_URL EMAIL_HOST_PASSWORD EMAIL_HOST_USER S3_SECRET_ACCESS_KEY \
	EMAIL_HOST_PASSWORD_FILE POSTGRES_PASSWORD DATABASE_URL; do
	grep -q "^$v=" "$OUTS/pg_dump.environ" && fail "pg_dump's environment holds $v"
done
unlock_items
wait "$BPID"
assert_eq 0 "$?" "exit status of the run after the lock went"
assert_file "$SMTP_DIR_rec/msg-2.eml"
cp "$SMTP_DIR_rec/msg-2.eml" "$OUTS/mail-success.eml"
body "$HTTP_L_DIR_hook4/req-1.json" "$OUTS/webhook-body4.json"

# ---------------------------------------------------------------- 5.
log "5. a ping URL with a trailing slash, a Slack-style webhook token in the path"
http_start p5 status:500
http_start h5 status:404
ping5="$HTTP_L_URL_p5/0a1b2c3d-4444-5555-6666-777788889999/"
hook5="$HTTP_L_URL_h5/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
assert_exit 0 vigil BACKUP_PING_URL="$ping5" BACKUP_WEBHOOK_URL="$hook5" check-config
cp "$OUT" "$OUTS/check-config5.txt"
assert_contains "$OUTS/check-config5.txt" "BACKUP_PING_URL=$HTTP_L_URL_p5/***/"
assert_contains "$OUTS/check-config5.txt" "BACKUP_WEBHOOK_URL=$HTTP_L_URL_h5/services/T0000/B0000/***"
assert_exit 1 vigil BACKUP_NOTIFY_EMAIL= BACKUP_PING_URL="$ping5" BACKUP_WEBHOOK_URL="$hook5" \
	notify --test
assert_output_match "^ping failed: ping http://127\.0\.0\.1:$HTTP_L_PORT_p5/\*\*\*/log: answered HTTP 500"
assert_output_match "^webhook failed: webhook http://127\.0\.0\.1:$HTTP_L_PORT_h5/services/T0000/B0000/\*\*\*: answered HTTP 404"
grep -qx 'POST /0a1b2c3d-4444-5555-6666-777788889999/log' "$HTTP_L_DIR_p5/requests.log" ||
	fail "control: the ping listener did not get the UUID's /log"
grep -qF XXXXXXXXXXXXXXXXXXXXXXXX "$HTTP_L_DIR_h5/requests.log" ||
	fail "control: the webhook listener did not get the token"
SECRETS+=(0a1b2c3d-4444-5555-6666-777788889999 XXXXXXXXXXXXXXXXXXXXXXXX)

# ---------------------------------------------------------------- the search
log "searching every output for the secrets"
cp -r "$LOG_DIR" "$OUTS/logs"
cp -r "$BACKUP_DIR/runs" "$OUTS/runs"
cp "$IT_TMP"/cmd.*.out "$IT_TMP"/cmd.*.err "$OUTS/"
ls "$OUTS" | sed 's/^/    /'
for s in "${SECRETS[@]}"; do
	if grep -rlF -- "$s" "$OUTS" >"$T/hits"; then
		while read -r f; do grep -nF -- "$s" "$f" | head -n 3 | sed "s|^|    ${f#"$OUTS"/}: |"; done <"$T/hits"
		fail "secret '$s' found in vigil's output"
	fi
done
# The search itself can fail: the secrets are in what the servers received.
grep -qF MailPw "$SMTP_DIR_rec/auth.log" || fail "control: the SMTP server did not record the password"
grep -qF TOKsecret123 "$HTTP_L_DIR_hook/requests.log" || fail "control: the webhook server did not see the token"
check_i1
log "C11 ok"
