#!/bin/bash
# shellcheck disable=SC2016,SC2119 # bodies in single quotes; lib functions take optional args
# Alerts end to end under the daemon (README "Alerts"; the issue's "Done when").
# Mail through a recording SMTP server, webhook and ping at recorders,
# BACKUP_NOTIFY_TIMEOUT=3, EMAIL_TIMEOUT=5.
#
#  1. database stopped, `vigil serve` with BACKUP_ON_START=true: within 20 s
#     the run ends (exit 1) with exactly one mail (to BACKUP_NOTIFY_EMAIL,
#     naming the run), "GET .../start" then "POST .../fail" and nothing else
#     at the ping URL, one webhook whose body is the failure manifest (run_id,
#     result, error code db_connect); /healthz 503; /metrics counts the three
#     alerts as sent and none failed.
#  2. database back, a new daemon with BACKUP_ON_START=true: the run succeeds,
#     /healthz 200, "GET .../start" then "POST /ping/UUID" (the success
#     ping), a second webhook with result success, still one mail (failure
#     mode mails only unhealthy runs).
#  3. a run that dies of a signal (a pg_dump shim kills it with SIGILL) sends
#     nothing at its end; the daemon writes its manifest and starts
#     `vigil notify RUN_ID`: a second mail, a third webhook (result failure,
#     reason child), and "/fail" after the dead run's "/start"; the manifest
#     records the three alerts as sent.
#  4. `vigil notify --test`: exit 0, one line per channel, the ping goes to
#     .../log; a webhook answering 404: exit 1 naming the webhook; no channel
#     configured: exit 2; `vigil notify nonsense`: exit 2.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
it_setup
UUID=a1e7-daemon-check
smtp_start mail
http_start hook record
http_start ping record
export BACKUP_NOTIFY_EMAIL=ops@example.org EMAIL_HOST=127.0.0.1 EMAIL_PORT=$SMTP_PORT_mail
export BACKUP_WEBHOOK_URL=$HTTP_L_URL_hook/hook BACKUP_PING_URL=$HTTP_L_URL_ping/ping/$UUID
export BACKUP_NOTIFY_TIMEOUT=3 EMAIL_TIMEOUT=5

pings() { cat "$HTTP_L_DIR_ping/requests.log" 2>/dev/null; }
hooks() { http_req_count "$HTTP_L_DIR_hook"; }
# hook_field N KEY: a field of the Nth webhook body (JSON).
hook_field() {
	"$PY" -c 'import json,sys
v=json.loads(json.load(open(sys.argv[1]))["body"])
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$HTTP_L_DIR_hook/req-$1.json" "$2"
}
notice() {
	"$PY" -c 'import json,sys
for n in json.load(open(sys.argv[1])).get("notifications", []):
    if n["channel"] == sys.argv[2]: print(n["result"])' "$1" "$2"
}

# ---------------------------------------------------------------- 1.
log "1. a failing scheduled run under the daemon"
pg_server stop
ls_manifests >"$T/m0"
t0=$SECONDS
daemon_spawn 1 vigil BACKUP_ON_START=true serve
wait_until 20 "the failing run to end" grep -q 'run finished' "$DLOG"
log "the run and its alerts took $((SECONDS - t0)) s"
assert_contains "$DLOG" 'run finished: exited 1'
assert_one_failure_manifest "$T/m0"
mf=$(new_manifests "$T/m0")
id=$(basename "$mf" .json)
assert_eq 1 "$(smtp_msg_count "$SMTP_DIR_mail")" "mails after the failed run"
assert_eq '["ops@example.org"]' "$(manifest_get "$SMTP_DIR_mail/msg-1.json" rcpt_tos)" "mail recipients"
assert_contains "$SMTP_DIR_mail/msg-1.eml" "$id"
assert_eq "GET /ping/$UUID/start
POST /ping/$UUID/fail" "$(pings)" "pings of the failed run"
assert_eq 1 "$(hooks)" "webhooks after the failed run"
assert_eq "$id" "$(hook_field 1 run_id)" "run_id of the webhook body"
assert_eq failure "$(hook_field 1 result)" "result of the webhook body"
assert_eq db_connect "$(hook_field 1 error.code)" "error code of the webhook body"
assert_eq "$(manifest_get "$mf" error.message)" "$(hook_field 1 error.message)" "error message of the webhook body"
for ch in mail webhook ping; do
	assert_eq sent "$(notice "$mf" "$ch")" "$ch notice in the manifest"
done
wait_until 5 "/healthz 503" eval 'http /healthz; [[ $HTTP_CODE == 503 ]]'
wait_until 5 "the alerts counted" eval \
	'[[ $(metric "vigil_notifications_total{channel=\"ping\",result=\"sent\"}") == 1 ]]'
for ch in mail webhook ping; do
	assert_eq 1 "$(metric "vigil_notifications_total{channel=\"$ch\",result=\"sent\"}")" "$ch alerts sent"
	assert_eq 0 "$(metric "vigil_notification_failures_total{channel=\"$ch\"}")" "$ch alert failures"
done
daemon_stop

# ---------------------------------------------------------------- 2.
log "2. database back: a successful run clears /healthz and pings success"
pg_server start
ls_manifests >"$T/m0"
wait_next_second
daemon_spawn 2 vigil BACKUP_ON_START=true serve
wait_until 20 "the good run to end" grep -q 'run finished' "$DLOG"
assert_contains "$DLOG" 'run finished: exited 0'
wait_until 5 "/healthz 200" eval 'http /healthz; [[ $HTTP_CODE == 200 ]]'
assert_contains "$T/http.body" '"status":"ok"'
assert_eq "GET /ping/$UUID/start
POST /ping/$UUID/fail
GET /ping/$UUID/start
POST /ping/$UUID" "$(pings)" "pings after the good run"
assert_eq 2 "$(hooks)" "webhooks after the good run"
assert_eq success "$(hook_field 2 result)" "result of the second webhook body"
assert_eq 1 "$(smtp_msg_count "$SMTP_DIR_mail")" "mails after the good run (BACKUP_NOTIFY_ON=failure)"
daemon_stop

# ---------------------------------------------------------------- 3.
log "3. a run killed by a signal: the daemon sends its alerts (vigil notify)"
make_shim pg_dump 'case " $* " in *" --version "*) exec "$REAL" "$@";; esac; kill -ILL $PPID; sleep 1; exit 1'
ls_manifests >"$T/m0"
wait_next_second
daemon_spawn 3 vigil PATH="$T/shim:$PATH" BACKUP_ON_START=true serve
wait_until 20 "the run to die" grep -q 'run finished: killed by signal 4' "$DLOG"
wait_until 20 "the alerts child to finish" grep -q 'alerts child finished' "$DLOG"
assert_contains "$DLOG" 'alerts child finished: exited 0'
mf=$(new_manifests "$T/m0")
id=$(basename "$mf" .json)
assert_contains "$DLOG" "sending the alerts of run $id"
assert_eq 2 "$(smtp_msg_count "$SMTP_DIR_mail")" "mails after the killed run"
assert_contains "$SMTP_DIR_mail/msg-2.eml" "$id"
assert_eq 3 "$(hooks)" "webhooks after the killed run"
assert_eq "$id" "$(hook_field 3 run_id)" "run_id of the third webhook body"
assert_eq child "$(hook_field 3 error.code)" "error code of the third webhook body"
assert_eq "GET /ping/$UUID/start
POST /ping/$UUID/fail" "$(pings | tail -n 2)" "pings of the killed run"
assert_eq 6 "$(pings | wc -l)" "pings in all"
for ch in mail webhook ping; do
	assert_eq sent "$(notice "$mf" "$ch")" "$ch notice in the killed run's manifest"
done
wait_until 5 "/metrics to count the mails" eval \
	'[[ $(metric "vigil_notifications_total{channel=\"mail\",result=\"sent\"}") == 2 ]]'
daemon_stop

# ---------------------------------------------------------------- 4.
log "4. vigil notify --test and its exit statuses"
assert_exit 0 vigil notify --test
assert_eq "mail sent
webhook sent
ping sent" "$(cat "$OUT")" "vigil notify --test output"
assert_eq "POST /ping/$UUID/log" "$(pings | tail -n 1)" "the test ping"
assert_eq 3 "$(smtp_msg_count "$SMTP_DIR_mail")" "mails after the test"
http_start nf status:404
assert_exit 1 vigil BACKUP_WEBHOOK_URL="$HTTP_L_URL_nf/hook" notify --test
assert_contains "$OUT" 'webhook failed'
assert_output_match 'ERROR .*webhook'
assert_exit 2 vigil BACKUP_NOTIFY_EMAIL= BACKUP_WEBHOOK_URL= BACKUP_PING_URL= notify --test
assert_output_match 'no alert channel is configured'
assert_exit 2 vigil notify nonsense
assert_exit 2 vigil notify
assert_exit 1 vigil notify 20000101_000000
log "alerts daemon ok"
