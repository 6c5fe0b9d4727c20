#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# FIELD-CASES C12, the code part (the image's own test runs the static
# binary in Docker):
#   1. `vigil version` says how names are resolved (this dynamic build:
#      "dynamic glibc <version>: NSS per /etc/nsswitch.conf").
#   2. An unresolvable POSTGRES_HOST: exit 1, the ERROR line names the host
#      and the resolver's error (libpq's 'could not translate host name
#      "no-such-host.invalid" to address: ...'), never "connection refused".
#   3. An unresolvable EMAIL_HOST and webhook host (`vigil notify --test`):
#      exit 1, each line names the host and getaddrinfo's error
#      (gai_strerror), not libcurl's bare "Could not resolve host".
#   4. SSL_CERT_FILE naming no file, with an https webhook: notify --test
#      exit 1 naming SSL_CERT_FILE and the errno; `vigil serve` stays up
#      with /healthz 503 "start-up check failed: alerts over TLS
#      (BACKUP_WEBHOOK_URL) cannot be sent: SSL_CERT_FILE=..."
#      (vigil_startup_check_ok{check="ca_bundle"} 0, healthcheck exit 1),
#      and the backups still run (BACKUP_ON_START: a new db backup).
#   5. No CA bundle anywhere (a tmpfs over /etc/ssl and /etc/pki in a mount
#      namespace): /healthz 503 "no CA bundle found (SSL_CERT_FILE is unset;
#      tried /etc/ssl/certs/ca-certificates.crt, ...": the paths and the
#      hint (ca-certificates, SSL_CERT_FILE); a plain http:// webhook needs
#      no bundle and is still tried (its own connection error).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup
GAI='(Name or service not known|No address associated with hostname|Temporary failure in name resolution)'
BAD=no-such-host.invalid

log "1. version"
assert_exit 0 vigil version
assert_match "$OUT" '^name resolution: dynamic glibc [0-9]+\.[0-9]+: NSS per /etc/nsswitch\.conf$'

log "2. POSTGRES_HOST that does not resolve"
assert_exit 1 vigil LC_MESSAGES=C POSTGRES_HOST=$BAD backup --db-only
assert_match "$ERR" "ERROR database backup failed: cannot connect to database \"app\" at $BAD:$POSTGRES_PORT as postgres: could not translate host name \"$BAD\" to address: $GAI"
assert_not_contains "$ERR" "refused"

log "3. EMAIL_HOST and webhook host that do not resolve"
assert_exit 1 vigil EMAIL_HOST=$BAD BACKUP_NOTIFY_EMAIL=ops@example.test EMAIL_TIMEOUT=3 \
	BACKUP_WEBHOOK_URL=http://$BAD/hook BACKUP_NOTIFY_TIMEOUT=3 notify --test
assert_match "$ERR" "cannot resolve the SMTP server's name $BAD \(EMAIL_HOST\): $GAI \(after [0-9] attempts?\)"
assert_match "$ERR" "webhook http://$BAD/hook: cannot resolve its host: $GAI \(after [0-9] attempts?\)"
assert_not_contains "$ERR" "Could not resolve host"
assert_not_contains "$ERR" "refused"

log "4. SSL_CERT_FILE that names no file"
export BACKUP_WEBHOOK_URL=https://127.0.0.1:9/hook BACKUP_NOTIFY_TIMEOUT=3
assert_exit 1 vigil SSL_CERT_FILE="$T/none.pem" notify --test
assert_contains "$ERR" "webhook https://127.0.0.1:9/hook: not sent: SSL_CERT_FILE=$T/none.pem is not a readable CA bundle: No such file or directory; hint:"
daemon_spawn 4 env SSL_CERT_FILE="$T/none.pem" BACKUP_ON_START=true "$VIGIL" serve
http /healthz
assert_eq 503 "$HTTP_CODE" "4: /healthz"
assert_contains "$T/http.body" "\"reason\":\"start-up check failed: alerts over TLS (BACKUP_WEBHOOK_URL) cannot be sent: SSL_CERT_FILE=$T/none.pem is not a readable CA bundle: No such file or directory; hint: point it at a PEM bundle"
assert_eq 0 "$(metric 'vigil_startup_check_ok{check="ca_bundle"}')" "4: ca_bundle check"
assert_exit 1 vigil healthcheck
# The whole start-up run (media and alerts too) must end before the stop,
# which expects an idle daemon.
run_done() { grep -q "INFO run finished: exited" "$DLOG"; }
wait_until 60 "4: the start-up run ends" run_done
assert_contains "$DLOG" "INFO run finished: exited 0"
compgen -G "$BACKUP_DIR/db/app_*.sql.gz.sha256" >/dev/null ||
	fail "4: no database backup: local backups must keep running without a CA bundle"
daemon_stop

log "5. no CA bundle at all"
nobundle() {
	local d
	for d in /etc/ssl /etc/pki; do
		[[ -d $d ]] && mount -t tmpfs none "$d"
	done
	exec "$@"
}
export -f nobundle
daemon_spawn 5 unshare -m bash -c 'nobundle "$@"' _ "$VIGIL" serve
http /healthz
assert_eq 503 "$HTTP_CODE" "5: /healthz"
assert_contains "$T/http.body" "no CA bundle found (SSL_CERT_FILE is unset; tried /etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/ca-bundle.pem, /etc/pki/tls/cacert.pem, /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem, /etc/ssl/cert.pem): TLS servers cannot be verified; hint: install the ca-certificates package"
assert_contains "$DLOG" "ERROR start-up check failed: alerts over TLS (BACKUP_WEBHOOK_URL) cannot be sent: no CA bundle found"
daemon_stop
assert_exit 1 unshare -m bash -c 'nobundle "$@"' _ "$VIGIL" notify --test
assert_contains "$ERR" "webhook https://127.0.0.1:9/hook: not sent: no CA bundle found"
assert_exit 1 unshare -m bash -c 'nobundle "$@"' _ env BACKUP_WEBHOOK_URL=http://127.0.0.1:9/hook "$VIGIL" notify --test
assert_contains "$ERR" "webhook http://127.0.0.1:9/hook: connection refused"
log "C12 ok"
