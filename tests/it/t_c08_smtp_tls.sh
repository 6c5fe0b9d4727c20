#!/bin/bash
# FIELD case C08: Django's EMAIL_USE_TLS / EMAIL_USE_SSL against real SMTP
# servers on loopback (notify_lib.sh): I speaks implicit TLS, S requires
# STARTTLS, P offers no STARTTLS and records any credentials it gets. The
# test CA comes in through SSL_CERT_FILE. Every mail is the alert of a
# failed `vigil backup` (the database's port is closed, so the run fails at
# once and exits 1 whatever happens to the mail).
#   (a) I with EMAIL_USE_TLS=true: gives up within EMAIL_TIMEOUT; the ERROR
#       says no SMTP greeting came and suggests EMAIL_USE_SSL.
#   (b) S with EMAIL_USE_SSL=true: a quick TLS error with the opposite hint.
#   (c) both flags: exit 2 at start naming both, no run.
#   (d) P with EMAIL_USE_TLS=true and a user/password: neither AUTH nor MAIL
#       is sent (commands.log, no auth.log); the ERROR says no STARTTLS.
#   (e) EMAIL_USE_TLS = true, False, 0, empty, maybe: true, false, false,
#       false, exit 2 naming the variable.
#   (f) I with SSL and S with TLS (and AUTH), EMAIL_TIMEOUT=10: exactly one
#       mail each, encrypted, with To, Subject, Date, Message-ID, charset,
#       CRLF only, no line over 998 bytes, no password.
#   (g) (f) without the test CA: a certificate error naming the CA file and
#       SSL_CERT_FILE, never a silent fallback: no new mail.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
require_vigil
vigil_env
test_ca
smtp_start I --tls implicit
smtp_start S --tls starttls
smtp_start P --tls none --auth vigil:Secr3t-Mail-pw

base=(POSTGRES_DB=app POSTGRES_HOST=127.0.0.1 POSTGRES_PORT="$(free_port)"
	POSTGRES_PASSWORD=Db-Secr3t-pw MEDIA_DIR= BACKUP_NOTIFY_EMAIL=ops@example.test
	DEFAULT_FROM_EMAIL=backup@example.test EMAIL_HOST=127.0.0.1 SSL_CERT_FILE="$TEST_CA")

# run_backup SECONDS_MAX VAR=VALUE...: `vigil backup` fails (exit 1) within
# SECONDS_MAX; $ERR holds its log.
run_backup() { backup_fails_within "$1" "${base[@]}" "${@:2}"; }

log "(a) implicit-TLS server, EMAIL_USE_TLS=true"
run_backup 7 EMAIL_PORT="$SMTP_PORT_I" EMAIL_USE_TLS=true EMAIL_TIMEOUT=4
assert_match "$ERR" "ERROR alert not delivered: .*no SMTP greeting from 127\.0\.0\.1:$SMTP_PORT_I within [34] s"
assert_match "$ERR" "hint: .*implicit TLS.*set EMAIL_USE_SSL=true \(and EMAIL_USE_TLS=false\)"
assert_eq 0 "$(smtp_msg_count "$SMTP_DIR_I")" "(a) messages on I"

log "(b) STARTTLS server, EMAIL_USE_SSL=true"
run_backup 4 EMAIL_PORT="$SMTP_PORT_S" EMAIL_USE_SSL=true EMAIL_TIMEOUT=10
assert_match "$ERR" "TLS handshake failed with 127\.0\.0\.1:$SMTP_PORT_S: .*\(after 1 attempt\); hint: this server may expect STARTTLS.*set EMAIL_USE_TLS=true instead of EMAIL_USE_SSL"
assert_eq 0 "$(smtp_msg_count "$SMTP_DIR_S")" "(b) messages on S"

log "(c) both flags"
ls_manifests >"$T/before"
for cmd in check-config backup; do
	assert_exit 2 vigil "${base[@]}" EMAIL_PORT="$SMTP_PORT_S" EMAIL_USE_TLS=true EMAIL_USE_SSL=True "$cmd"
	assert_match "$ERR" "configuration error: EMAIL_USE_TLS and EMAIL_USE_SSL are both true"
done
assert_eq "" "$(new_manifests "$T/before")" "(c) a run started"

log "(d) server without STARTTLS, EMAIL_USE_TLS=true with a password"
run_backup 4 EMAIL_PORT="$SMTP_PORT_P" EMAIL_USE_TLS=true EMAIL_TIMEOUT=10 \
	EMAIL_HOST_USER=vigil EMAIL_HOST_PASSWORD=Secr3t-Mail-pw
assert_match "$ERR" "the SMTP server 127\.0\.0\.1:$SMTP_PORT_P offers no STARTTLS; the password was not sent \(EMAIL_USE_TLS=true requires it\)"
cmds=$(smtp_commands "$SMTP_DIR_P")
log "P received: $cmds"
[[ " $cmds " == *" AUTH "* || " $cmds " == *" MAIL "* ]] && fail "(d) P received AUTH or MAIL: $cmds"
[[ $cmds == EHLO* ]] || fail "(d) P never saw the client's EHLO: '$cmds' (did vigil connect at all?)"
[[ -s $SMTP_DIR_P/auth.log ]] && fail "(d) P recorded credentials: $(cat "$SMTP_DIR_P/auth.log")"
assert_not_contains "$ERR" "Secr3t-Mail-pw"

log "(e) booleans"
for v in true False 0 "" maybe; do
	case $v in
	true) want=true ;;
	maybe) want=refused ;;
	*) want=false ;;
	esac
	if [[ $want == refused ]]; then
		assert_exit 2 vigil "${base[@]}" EMAIL_USE_TLS="$v" check-config
		assert_match "$ERR" "EMAIL_USE_TLS=\"maybe\" is not a boolean"
	else
		assert_exit 0 vigil "${base[@]}" EMAIL_USE_TLS="$v" EMAIL_ALLOW_PLAIN_AUTH=false check-config
		grep -qx "EMAIL_USE_TLS=$want" "$OUT" || fail "(e) EMAIL_USE_TLS='$v' is not read as $want: $(grep EMAIL_USE_TLS "$OUT")"
	fi
done

# check_mail DIR: exactly one message, encrypted, well formed (check_eml.py).
cat >"$T/check_eml.py" <<'EOF'
import email, email.policy, re, sys
raw = open(sys.argv[1], "rb").read()
bad = []
if re.search(rb"(?<!\r)\n", raw) or re.search(rb"\r(?!\n)", raw):
    bad.append("a bare LF or CR")
if max(len(l) for l in raw.split(b"\r\n")) > 998:
    bad.append("a line over 998 bytes")
m = email.message_from_bytes(raw, policy=email.policy.default)
if m["To"] != "ops@example.test":
    bad.append("To is %r" % m["To"])
if not str(m["Subject"]).startswith("[vigil] FAILED backup of app on "):
    bad.append("Subject is %r" % str(m["Subject"]))
if m["Date"] is None or m["Date"].datetime is None:
    bad.append("no valid Date")
if not re.fullmatch(r"<[0-9a-f]{16}\.[0-9]+@[A-Za-z0-9.-]+>", m["Message-ID"] or ""):
    bad.append("Message-ID is %r" % m["Message-ID"])
if m.get_content_type() != "text/plain" or m.get_content_charset() != "utf-8":
    bad.append("Content-Type is %r" % m["Content-Type"])
body = m.get_content()
if "cannot connect to database" not in body or "Database: app" not in body:
    bad.append("the body does not name the database and its error")
for pw in (b"Secr3t-Mail-pw", b"Db-Secr3t-pw"):
    if pw in raw:
        bad.append("a password in the message")
print("; ".join(bad) if bad else "ok")
EOF
check_mail() {
	local dir=$1 what=$2 r
	assert_eq 1 "$(smtp_msg_count "$dir")" "$what: messages"
	assert_eq true "$(manifest_get "$dir/msg-1.json" tls)" "$what: the session was encrypted"
	assert_eq '["ops@example.test"]' "$(manifest_get "$dir/msg-1.json" rcpt_tos)" "$what: recipients"
	r=$("$PY" "$T/check_eml.py" "$dir/msg-1.eml")
	[[ $r == ok ]] || { show_file "$dir/msg-1.eml"; fail "$what: $r"; }
}

log "(f) the right flag for each server"
run_backup 10 EMAIL_PORT="$SMTP_PORT_I" EMAIL_USE_SSL=true EMAIL_TIMEOUT=10
assert_match "$ERR" "alerts done .*failed=none"
check_mail "$SMTP_DIR_I" "(f) I"
run_backup 10 EMAIL_PORT="$SMTP_PORT_S" EMAIL_USE_TLS=true EMAIL_TIMEOUT=10 \
	EMAIL_HOST_USER=vigil EMAIL_HOST_PASSWORD=Secr3t-Mail-pw
assert_match "$ERR" "alerts done .*failed=none"
check_mail "$SMTP_DIR_S" "(f) S"
assert_eq vigil "$(manifest_get "$SMTP_DIR_S/msg-1.json" auth_user)" "(f) S: AUTH over TLS"

log "(g) (f) without the test CA"
for srv in I S; do
	port=SMTP_PORT_$srv
	flag=EMAIL_USE_SSL
	[[ $srv == S ]] && flag=EMAIL_USE_TLS
	run_backup 10 EMAIL_PORT="${!port}" "$flag=true" EMAIL_TIMEOUT=10 SSL_CERT_FILE=
	assert_match "$ERR" "SMTP server 127\.0\.0\.1:${!port}: TLS certificate not trusted \(.*CA file /[^)]*\).*hint: set SSL_CERT_FILE"
	dir=SMTP_DIR_$srv
	assert_eq 1 "$(smtp_msg_count "${!dir}")" "(g) $srv: no new message"
done
log "ok"
