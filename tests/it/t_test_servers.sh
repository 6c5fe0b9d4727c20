#!/bin/bash
# The loopback servers of notify_lib.sh (tests/it/tools/smtp_server.py and
# http_listener.py) do what the mail, webhook and ping tests rely on, seen
# from ordinary clients (python3's smtplib, curl), without vigil or a
# database:
#   SMTP: plain, STARTTLS and implicit TLS servers accept a message, checked
#   against the test CA; the .eml holds the bytes sent (CRLF, a 998-byte
#   line, a leading dot); msg-N.json says who, to whom, authenticated as
#   whom, encrypted or not; commands.log lists each verb, a MAIL refused
#   before STARTTLS too; a STARTTLS server offers AUTH only after TLS; a
#   plaintext --auth server offers it and records the password a client
#   sends; --auth-fail answers 535 and then refuses MAIL; --reject-rcpt
#   answers 550; a --no-greet server makes the client time out.
#   HTTP: record, status:500, status-seq, HTTPS with the test CA; blackhole
#   and trickle make curl --max-time time out and keep no other connection
#   waiting. Every server exits 0 on SIGTERM, open connections or not.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/it/notify_lib.sh
. "$(dirname "$0")/notify_lib.sh"
vigil_env
test_ca

# smtp_client.py PORT none|starttls|implicit [--ca F] [--login U:P]
# [--mail-first] [--timeout S]: sends $T/sent.eml from a@x to b@y and prints
# what happened, one fact a line; exits 0 whatever the server did.
cat >"$T/smtp_client.py" <<'EOF'
import argparse, os, smtplib, socket, ssl, sys
p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("tls")
p.add_argument("--ca")
p.add_argument("--login")
p.add_argument("--mail-first", action="store_true")
p.add_argument("--timeout", type=float, default=5)
a = p.parse_args()
msg = open(os.path.join(os.path.dirname(sys.argv[0]), "sent.eml"), "rb").read()
ctx = ssl.create_default_context(cafile=a.ca) if a.ca else None
try:
    if a.tls == "implicit":
        s = smtplib.SMTP_SSL("127.0.0.1", a.port, context=ctx, timeout=a.timeout)
    else:
        s = smtplib.SMTP("127.0.0.1", a.port, timeout=a.timeout)
    s.ehlo()
    print("auth offered:", "yes" if s.has_extn("auth") else "no")
    if a.mail_first:
        print("mail before starttls:", s.mail("a@x")[0])
    if a.tls == "starttls":
        s.starttls(context=ctx)
        s.ehlo()
        print("auth offered after starttls:", "yes" if s.has_extn("auth") else "no")
    if a.login:
        try:
            s.login(*a.login.split(":", 1))
            print("login ok")
        except smtplib.SMTPAuthenticationError as e:
            print("login refused:", e.smtp_code)
            print("mail after refused login:", s.mail("a@x")[0])
            sys.exit(0)
    s.sendmail("a@x", ["b@y"], msg)
    print("sent")
    s.quit()
except smtplib.SMTPRecipientsRefused as e:
    print("rcpt refused:", e.recipients["b@y"][0])
except (socket.timeout, TimeoutError):
    print("timeout")
except smtplib.SMTPServerDisconnected as e:
    # smtplib turns a timeout waiting for the greeting into this
    print("timeout" if isinstance(e.__context__, TimeoutError) else "disconnected: %s" % e)
except ssl.SSLCertVerificationError as e:
    print("certificate refused:", e.verify_message)
EOF
{
	printf 'From: a@x\r\nTo: b@y\r\nSubject: test servers\r\n\r\n'
	printf 'L%.0s' $(seq 998)
	printf '\r\n.a line that starts with a dot\r\nlast line\r\n'
} >"$T/sent.eml"
smtp() { assert_exit 0 "$PY" "$T/smtp_client.py" "$@"; }
# json FILE KEY: a value of a server's JSON record.
json() { manifest_get "$1" "$2" || fail "$1 has no $2"; }

# --- plain SMTP, twice: msg-1, msg-2, the bytes as sent
smtp_start plain
smtp "$SMTP_PORT" none
assert_contains "$OUT" "auth offered: no"
assert_contains "$OUT" sent
smtp "$SMTP_PORT" none
assert_eq 2 "$(smtp_msg_count)" "messages recorded by the plain server"
cmp "$T/sent.eml" "$SMTP_DIR/msg-1.eml" || fail "msg-1.eml differs from what was sent"
cmp "$T/sent.eml" "$SMTP_DIR/msg-2.eml" || fail "msg-2.eml differs from what was sent"
assert_eq a@x "$(json "$SMTP_DIR/msg-1.json" mail_from)" "mail_from"
assert_eq '["b@y"]' "$(json "$SMTP_DIR/msg-1.json" rcpt_tos)" "rcpt_tos"
assert_eq null "$(json "$SMTP_DIR/msg-1.json" auth_user)" "auth_user without AUTH"
assert_eq false "$(json "$SMTP_DIR/msg-1.json" tls)" "tls of a plain session"
assert_eq "EHLO MAIL RCPT DATA QUIT EHLO MAIL RCPT DATA QUIT" "$(smtp_commands)" "plain server's commands"
[[ ! -e $SMTP_DIR/auth.log ]] || fail "the plain server recorded an AUTH attempt"

# --- STARTTLS with AUTH: nothing but EHLO/STARTTLS before TLS, AUTH after
smtp_start starttls --tls starttls --auth alice:s3cret
smtp "$SMTP_PORT" starttls --ca "$TEST_CA" --login alice:s3cret --mail-first
assert_contains "$OUT" "auth offered: no"
assert_contains "$OUT" "mail before starttls: 530"
assert_contains "$OUT" "auth offered after starttls: yes"
assert_contains "$OUT" "login ok"
assert_contains "$OUT" sent
cmp "$T/sent.eml" "$SMTP_DIR/msg-1.eml" || fail "msg-1.eml (STARTTLS) differs from what was sent"
assert_eq true "$(json "$SMTP_DIR/msg-1.json" tls)" "tls after STARTTLS"
assert_eq alice "$(json "$SMTP_DIR/msg-1.json" auth_user)" "auth_user after STARTTLS"
assert_eq "EHLO MAIL STARTTLS EHLO AUTH MAIL RCPT DATA QUIT" "$(smtp_commands)" "STARTTLS server's commands"
assert_eq 1 "$(wc -l <"$SMTP_DIR/auth.log")" "AUTH attempts recorded"
assert_contains "$SMTP_DIR/auth.log" '"login": "alice", "password": "s3cret", "tls": true, "ok": true'
# the certificate is checked: another CA's client refuses it
test_ca "$T/other_ca"
smtp "$SMTP_PORT_starttls" starttls --ca "$T/other_ca/ca.pem"
assert_contains "$OUT" "certificate refused: unable to get local issuer certificate"
test_ca
assert_eq 1 "$(smtp_msg_count)" "messages after the refused certificate"

# --- implicit TLS with AUTH
smtp_start implicit --tls implicit --auth bob:pw
smtp "$SMTP_PORT" implicit --ca "$TEST_CA" --login bob:pw
assert_contains "$OUT" "auth offered: yes"
assert_contains "$OUT" sent
cmp "$T/sent.eml" "$SMTP_DIR/msg-1.eml" || fail "msg-1.eml (implicit TLS) differs from what was sent"
assert_eq true "$(json "$SMTP_DIR/msg-1.json" tls)" "tls of an implicit TLS session"
assert_eq bob "$(json "$SMTP_DIR/msg-1.json" auth_user)" "auth_user over implicit TLS"

# --- a plaintext server with --auth records the password offered in clear
smtp_start plainauth --auth carol:pw
smtp "$SMTP_PORT" none --login carol:pw
assert_contains "$OUT" "auth offered: yes"
assert_contains "$OUT" sent
assert_contains "$SMTP_DIR/auth.log" '"login": "carol", "password": "pw", "tls": false, "ok": true'
assert_eq false "$(json "$SMTP_DIR/msg-1.json" tls)" "tls of the plaintext AUTH session"
assert_eq carol "$(json "$SMTP_DIR/msg-1.json" auth_user)" "auth_user in plaintext"

# --- --auth-fail: 535, recorded, then MAIL is refused
smtp_start authfail --auth-fail
smtp "$SMTP_PORT" none --login dave:whatever
assert_contains "$OUT" "login refused: 535"
assert_contains "$OUT" "mail after refused login: 530"
assert_contains "$SMTP_DIR/auth.log" '"login": "dave", "password": "whatever", "tls": false, "ok": false'
assert_eq 0 "$(smtp_msg_count)" "messages on the --auth-fail server"

# --- --reject-rcpt: 550, nothing recorded
smtp_start reject --reject-rcpt
smtp "$SMTP_PORT" none
assert_contains "$OUT" "rcpt refused: 550"
assert_eq 0 "$(smtp_msg_count)" "messages on the --reject-rcpt server"

# --- --no-greet: the client times out; the server holds the connection
smtp_start silent --no-greet
t0=$(now_us)
smtp "$SMTP_PORT" none --timeout 1
assert_contains "$OUT" timeout
(($(now_us) - t0 < 4000000)) || fail "the client took more than 4 s to time out"
assert_eq 1 "$(wc -l <"$SMTP_DIR/connections.log")" "connections to the silent server"
assert_eq "" "$(smtp_commands)" "commands seen by the silent server"

# SIGTERM: exit 0, the port closed (the silent one with a client still connected)
exec {held}<>"/dev/tcp/127.0.0.1/$SMTP_PORT_silent"
smtp_stop silent
exec {held}>&-
smtp_stop plain
if (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT_plain") 2>/dev/null; then
	fail "the stopped SMTP server's port still accepts connections"
fi

# --- HTTP: record
http_start rec record
assert_exit 0 curl -sS --max-time 5 -w '\n%{http_code}\n' -H 'Content-Type: application/json' \
	-d '{"result":"success"}' "$HTTP_L_URL/hook?run=1&x=%20y"
assert_eq $'OK\n200' "$(cat "$OUT")" "record mode's answer"
printf 'bin\x00\xff' | curl -sS --max-time 5 -o /dev/null --data-binary @- "$HTTP_L_URL/bin" ||
	fail "binary POST failed"
assert_exit 0 curl -sS --max-time 5 -o /dev/null "$HTTP_L_URL/ping/abc-123/fail"
assert_eq 3 "$(http_req_count)" "requests recorded"
assert_eq POST "$(json "$HTTP_L_DIR/req-1.json" method)" "method"
assert_eq "/hook?run=1&x=%20y" "$(json "$HTTP_L_DIR/req-1.json" path)" "path with query"
assert_eq application/json "$(json "$HTTP_L_DIR/req-1.json" headers.content-type)" "content-type"
assert_eq '{"result":"success"}' "$(json "$HTTP_L_DIR/req-1.json" body)" "body"
assert_eq 20 "$(json "$HTTP_L_DIR/req-1.json" body_len)" "body_len"
assert_eq false "$(json "$HTTP_L_DIR/req-1.json" body_b64)" "body_b64 of text"
assert_eq "$(printf 'bin\x00\xff' | base64)" "$(json "$HTTP_L_DIR/req-2.json" body)" "binary body"
assert_eq true "$(json "$HTTP_L_DIR/req-2.json" body_b64)" "body_b64 of bytes"
assert_eq $'POST /hook?run=1&x=%20y\nPOST /bin\nGET /ping/abc-123/fail' \
	"$(cat "$HTTP_L_DIR/requests.log")" "requests.log"

# --- status:500 and status-seq
http_start err status:500
assert_exit 0 curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -d x "$HTTP_L_URL/hook"
assert_eq 500 "$(cat "$OUT")" "status:500 answer"
assert_eq 1 "$(http_req_count)" "requests recorded by status:500"
http_start seq status-seq:500,500,200
codes=
for i in 1 2 3 4; do
	codes+=$(curl -s --max-time 5 -o /dev/null -w '%{http_code} ' "$HTTP_L_URL/ping")
done
assert_eq "500 500 200 200 " "$codes" "status-seq answers"
assert_eq 500 "$(json "$HTTP_L_DIR/req-2.json" status)" "status recorded for request 2"

# --- HTTPS with the test CA
http_start tls record --tls
assert_exit 0 curl -sS --max-time 5 --cacert "$TEST_CA" -o /dev/null -w '%{http_code}' "$HTTP_L_URL/ping"
assert_eq 200 "$(cat "$OUT")" "HTTPS answer"
assert_exit 60 curl -sS --max-time 5 --cacert "$T/other_ca/ca.pem" "$HTTP_L_URL/ping"
assert_eq 1 "$(http_req_count)" "requests recorded over HTTPS"

# --- blackhole and trickle, at the same time: curl --max-time times out,
# two connections to the blackhole wait together, a trickling one does not
# keep another from its status line.
http_start hole blackhole
http_start slow trickle
t0=$(now_us)
curl -sS --max-time 2 -d x "$HTTP_L_URL_hole/a" >"$T/hole1.out" 2>&1 &
c1=$!
curl -sS --max-time 2 -d x "$HTTP_L_URL_hole/b" >"$T/hole2.out" 2>&1 &
c2=$!
curl -sS --max-time 2 -o /dev/null -w '%{http_code}' -d x "$HTTP_L_URL_slow/ping" >"$T/slow.out" 2>&1 &
c3=$!
wait_for_file "$HTTP_L_DIR_slow/req-1.json" 2
"$PY" - "$HTTP_L_PORT_slow" <<-'EOF' || fail "a second trickle connection did not get its status line"
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1.5)
	s.sendall(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	got, end = b"", time.monotonic() + 1.5
	while len(got) < 18 and time.monotonic() < end:
	    got += s.recv(100)
	print("# trickle sent", repr(got))
	sys.exit(0 if got.startswith(b"HTTP/1.1 200 OK\r\nX") else 1)
EOF
wait "$c1"
rc1=$?
wait "$c2"
rc2=$?
wait "$c3"
rc3=$?
ms=$((($(now_us) - t0) / 1000))
log "blackhole: curl rc $rc1, $rc2; trickle: rc $rc3 ($(tr "\n" " " <"$T/slow.out")); ${ms} ms"
assert_eq "28 28 28" "$rc1 $rc2 $rc3" "curl exit codes (28: timed out)"
((ms < 4000)) || fail "the three timeouts of 2 s took ${ms} ms"
assert_eq 2 "$(wc -l <"$HTTP_L_DIR_hole/connections.log")" "connections to the blackhole"
assert_eq 0 "$(http_req_count "$HTTP_L_DIR_hole")" "requests the blackhole read"
assert_eq $'POST /ping\nGET /second' "$(cat "$HTTP_L_DIR_slow/requests.log")" "trickle's requests"
exec {held}<>"/dev/tcp/127.0.0.1/$HTTP_L_PORT_hole"
http_stop hole
exec {held}>&-
http_stop slow
http_stop rec
log "test servers: every mode behaves"
