#!/bin/bash
# C12: name resolution and TLS verification of the static vigil, in the
# shipped image and in plain Debian slim images, on one compose network
# (docker-compose.prod.yml + compose.test.yml + compose.c12.yml):
#   db      the postgres:15 stand-in, at a fixed address;
#   tools   tests/image/c12 (built once, tagged by a hash of its files):
#           dnsmasq at a fixed address (pg.corp.test, mailsrv.corp.test, and
#           long.corp.test whose answer is a chain of 13 CNAMEs, over 512
#           bytes), SMTP with STARTTLS (587) and implicit TLS (465) under a
#           certificate of the test CA, and the same on 2587/2465 under a
#           certificate of another CA;
#   backup  the shipped image; plain-bookworm, plain-trixie: the same
#           static binary copied into debian:bookworm-slim and
#           debian:trixie-slim (no ca-certificates, no pg_dump), serving.
# All three get `dns:` dnsmasq, `dns_search: corp.test`, mail.test only in
# extra_hosts. S3 is NOT covered: vigil has no offsite (S3) upload yet.
# Expectations, in each of the three containers:
#   - `vigil version` says how names are resolved (static glibc, files+dns);
#   - db (a compose name, Docker's DNS), mail.test (/etc/hosts), pg and
#     mailsrv (only as NAME.corp.test: the search domain), long.corp.test
#     (truncated over UDP, needs TCP: checked with dig first) resolve with
#     `getent ahostsv4` (glibc's NSS) to the addresses the test gave them,
#     and vigil reaches the same server by each name: `vigil notify --test`
#     with EMAIL_HOST=mail.test, mailsrv, long.corp.test delivers over
#     verified STARTTLS; in the shipped image `vigil backup --db-only`
#     with POSTGRES_HOST=db and POSTGRES_HOST=pg succeeds (the plain images
#     have no pg_dump: there `vigil check-config` takes the names);
#   - a name that does not resolve (nosuch.corp.test as EMAIL_HOST; nosuch
#     as POSTGRES_HOST in the shipped image): exit 1, the message names the
#     host and getaddrinfo's error, never "connection refused";
#   - CA: the plain images have no CA store and no SSL_CERT_FILE: `vigil
#     serve` stays up with /healthz 503 "start-up check failed: alerts over
#     TLS (EMAIL_USE_TLS) cannot be sent: no CA bundle found (SSL_CERT_FILE
#     is unset; tried ...)" with the paths and the hint (ca-certificates,
#     SSL_CERT_FILE), the same ERROR in its log, and notify --test says so
#     too; the shipped image, whose bundle does not hold the test CA,
#     refuses the server ("TLS certificate not trusted"); with
#     SSL_CERT_FILE=/run/certs/test-ca.pem the mail goes over STARTTLS and
#     implicit TLS, and a server whose certificate the test CA did not sign
#     is refused (verification is never switched off), nothing delivered.
set -u
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/vigil-image.XXXXXX)
at_exit "rm -rf '$T'"
GAI='(Name or service not known|No address associated with hostname|Temporary failure in name resolution)'
C12_LONG=long.corp.test
CA=/run/certs/test-ca.pem
SVCS=(backup plain-bookworm plain-trixie)

# ---- the tools image: built when its files changed (tag = their hash) ----
mkdir -p "$T/tools"
cp "$IMG_ROOT/tests/image/c12/Dockerfile" "$IMG_ROOT/tests/image/c12/tools.sh" \
	"$IMG_ROOT/tests/it/tools/smtp_server.py" "$IMG_ROOT/tests/it/tools/records.py" "$T/tools/"
hash=$({
	(cd "$T/tools" && sha256sum Dockerfile tools.sh smtp_server.py records.py)
	docker image inspect -f '{{.Id}}' debian:bookworm-slim
} | sha256sum | cut -c1-12)
C12_TOOLS_IMAGE=vigil-c12-tools:$hash
if ! docker image inspect "$C12_TOOLS_IMAGE" >/dev/null 2>&1; then
	log "building $C12_TOOLS_IMAGE"
	docker build -q -t "$C12_TOOLS_IMAGE" "$T/tools" >"$T/tools.build" 2>&1 ||
		{ cat "$T/tools.build"; fail "docker build $C12_TOOLS_IMAGE"; }
	# older hashes are stale
	docker image ls vigil-c12-tools --format '{{.Repository}}:{{.Tag}}' |
		grep -vxF "$C12_TOOLS_IMAGE" | xargs -r docker rmi >/dev/null 2>&1
fi

# ---- the plain images: the shipped image's binary in plain slim Debian ----
C12_PLAIN=vigil-c12-plain$$
mkdir -p "$T/plain"
tmpc=$(docker create "$VIGIL_IMAGE") || fail "docker create $VIGIL_IMAGE"
docker cp "$tmpc:/usr/local/bin/vigil" "$T/plain/vigil" && docker rm -v "$tmpc" >/dev/null ||
	fail "copying vigil out of $VIGIL_IMAGE"
for s in bookworm trixie; do
	printf 'FROM debian:%s-slim\nCOPY vigil /usr/local/bin/vigil\n' "$s" |
		docker build -q -t "$C12_PLAIN:$s" -f - "$T/plain" >/dev/null || fail "plain $s image"
done
after_down "docker rmi $C12_PLAIN:bookworm $C12_PLAIN:trixie"


# ---- a free /24 for the network (fixed addresses for db and dnsmasq) ----
read -r C12_SUBNET C12_RANGE C12_DB_IP C12_TOOLS_IP < <("$PY" - $$ <<'EOF'
import ipaddress, json, subprocess, sys
taken = []
ids = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True).stdout.split()
if ids:
    for n in json.loads(subprocess.run(["docker", "network", "inspect"] + ids,
                                       capture_output=True, text=True).stdout or "[]"):
        for c in (n.get("IPAM") or {}).get("Config") or []:
            if c.get("Subnet") and ":" not in c["Subnet"]:
                taken.append(ipaddress.ip_network(c["Subnet"], strict=False))
for line in subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout.splitlines():
    d = line.split()[0]
    if d != "default":
        taken.append(ipaddress.ip_network(d if "/" in d else d + "/32", strict=False))
for i in range(256):
    net = ipaddress.ip_network("10.213.%d.0/24" % ((int(sys.argv[1]) + i) % 256))
    if not any(net.overlaps(t) for t in taken):
        a = net.network_address
        print(net, "%s/25" % (a + 128), a + 10, a + 53)
        break
EOF
)
[[ -n ${C12_TOOLS_IP:-} ]] || fail "no free /24 in 10.213.0.0/16"
C12_DNS_IP=$C12_TOOLS_IP
C12_CERT_NAMES=mail.test,mailsrv,mailsrv.corp.test,$C12_LONG
export C12_TOOLS_IMAGE C12_PLAIN C12_SUBNET C12_RANGE C12_DB_IP C12_TOOLS_IP C12_DNS_IP \
	C12_LONG C12_CERT_NAMES
log "network $C12_SUBNET: db $C12_DB_IP, tools (dnsmasq, SMTP) $C12_TOOLS_IP"

project_new MEDIA_ALLOW_EMPTY=true EMAIL_HOST=mail.test EMAIL_PORT=587 EMAIL_USE_TLS=true \
	EMAIL_TIMEOUT=5 BACKUP_NOTIFY_EMAIL=ops@corp.test DEFAULT_FROM_EMAIL=vigil@corp.test
DC_EXTRA_FILES=("$IMG_ROOT/tests/image/compose.c12.yml")
dc up -d db tools || fail "up db tools"
wait_health db healthy 90
TOOLS=$(cid tools)
for ((i = 0; i < 60; i++)); do
	docker exec "$TOOLS" test -e /run/smtp/ready 2>/dev/null && break
	sleep 0.5
done
docker exec "$TOOLS" test -e /run/smtp/ready || { dc logs tools; fail "tools not ready in 30 s"; }
psql_db "CREATE TABLE items(id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10)" ||
	fail "fixture"
dc up -d "${SVCS[@]}" || fail "up ${SVCS[*]}"
declare -A CID
for s in "${SVCS[@]}"; do CID[$s]=$(cid "$s"); done

# x SVC [ENV=VAL...] -- CMD...: docker exec in SVC's container; output
# (stdout and stderr) in $OUT (and the log), exit status in $RC.
x() {
	local c=${CID[$1]} e=()
	shift
	while [[ $1 != -- ]]; do e+=(-e "$1") && shift; done
	shift
	OUT=$(docker exec "${e[@]}" "$c" "$@" 2>&1)
	RC=$?
	printf '$ %s%s (exit %d)\n%s\n' "${e[*]:+${e[*]} }" "$*" "$RC" "$OUT" | sed 's/^/    /'
}
expect() { # RC REGEX MSG: $RC and a line of $OUT
	assert_eq "$1" "$RC" "$3: exit"
	grep -Eq -- "$2" <<<"$OUT" || fail "$3: expected /$2/ in the output above"
}
count() { docker exec "$TOOLS" sh -c "ls /run/smtp/$1 | grep -c '^msg-.*\.eml$'"; }

log "the DNS server: long.corp.test does not fit a 512-byte UDP answer"
docker exec "$TOOLS" dig +noedns +notcp +ignore @127.0.0.1 "$C12_LONG" A >"$T/dig.udp" 2>&1
docker exec "$TOOLS" dig +tcp @127.0.0.1 "$C12_LONG" A >"$T/dig.tcp" 2>&1
grep -E 'flags:|MSG SIZE' "$T/dig.udp" "$T/dig.tcp"
assert_grep 'flags:[a-z ]* tc[ ;]' "$T/dig.udp" "the UDP answer is truncated"
assert_grep "^mailsrv\.corp\.test\..*IN[[:space:]]+A[[:space:]]+$C12_TOOLS_IP\$" "$T/dig.tcp" \
	"the TCP answer ends at mailsrv's address"
size=$(sed -n 's/.*MSG SIZE  rcvd: \([0-9]*\).*/\1/p' "$T/dig.tcp")
((size > 512)) || fail "the TCP answer is $size bytes, not over 512"

declare -A WANT=([db]=$C12_DB_IP [pg]=$C12_DB_IP [mail.test]=$C12_TOOLS_IP
	[mailsrv]=$C12_TOOLS_IP [$C12_LONG]=$C12_TOOLS_IP)
for s in "${SVCS[@]}"; do
	log "== $s"
	x "$s" -- vigil version
	expect 0 '^name resolution: static glibc 2\.[0-9]+: /etc/hosts and DNS \(/etc/resolv\.conf\)' \
		"$s: vigil version"
	x "$s" -- cat /etc/resolv.conf
	expect 0 '^search corp\.test' "$s: resolv.conf"
	# glibc's own answer (getent: the dynamic libc and NSS of the image)
	for n in "${!WANT[@]}"; do
		x "$s" -- getent ahostsv4 "$n"
		expect 0 "^${WANT[$n]//./\\.} " "$s: getent ahostsv4 $n"
	done
	x "$s" -- getent ahostsv4 nosuch.corp.test
	assert_eq 2 "$RC" "$s: getent nosuch.corp.test (not found)"

	log "$s: vigil reaches the mail server by each name (STARTTLS, SSL_CERT_FILE)"
	for n in mail.test mailsrv "$C12_LONG"; do
		before=$(count 587)
		x "$s" SSL_CERT_FILE=$CA EMAIL_HOST="$n" -- vigil notify --test
		expect 0 . "$s: notify --test via EMAIL_HOST=$n"
		assert_eq $((before + 1)) "$(count 587)" "$s: messages on 587 after EMAIL_HOST=$n"
	done
	x "$s" SSL_CERT_FILE=$CA EMAIL_HOST=nosuch.corp.test EMAIL_TIMEOUT=3 -- vigil notify --test
	expect 1 "nosuch\.corp\.test \(EMAIL_HOST\): $GAI" "$s: EMAIL_HOST that does not resolve"
	grep -qi refused <<<"$OUT" && fail "$s: 'refused' for a name that does not resolve"

	log "$s: TLS with SSL_CERT_FILE: implicit TLS; a foreign certificate is refused"
	before=$(count 465)
	x "$s" SSL_CERT_FILE=$CA EMAIL_USE_TLS=false EMAIL_USE_SSL=true EMAIL_PORT=465 -- vigil notify --test
	expect 0 . "$s: implicit TLS verified with SSL_CERT_FILE"
	assert_eq $((before + 1)) "$(count 465)" "$s: messages on 465"
	x "$s" SSL_CERT_FILE=$CA EMAIL_PORT=2587 -- vigil notify --test
	expect 1 "TLS certificate not trusted .*CA file ${CA//./\\.}" "$s: STARTTLS, foreign certificate"
	x "$s" SSL_CERT_FILE=$CA EMAIL_USE_TLS=false EMAIL_USE_SSL=true EMAIL_PORT=2465 -- vigil notify --test
	expect 1 "TLS certificate not trusted .*CA file ${CA//./\\.}" "$s: implicit TLS, foreign certificate"
	assert_eq 0 "$(count 2587)" "$s: messages delivered to the foreign-certificate STARTTLS server"
	assert_eq 0 "$(count 2465)" "$s: messages delivered to the foreign-certificate TLS server"
done

log "== the shipped image: the database by a compose name and by a search-domain name"
for n in db pg; do
	x backup POSTGRES_HOST=$n -- vigil backup --db-only
	expect 0 . "backup: vigil backup --db-only with POSTGRES_HOST=$n"
done
x backup POSTGRES_HOST=nosuch -- vigil backup --db-only
expect 1 "could not translate host name \"nosuch\" to address: $GAI" "backup: POSTGRES_HOST=nosuch"
grep -qi refused <<<"$OUT" && fail "backup: 'refused' for a database name that does not resolve"
log "the shipped image's CA store does not hold the test CA: refused, not switched off"
x backup -- vigil notify --test
expect 1 "TLS certificate not trusted .*CA file /etc/ssl/certs/ca-certificates\.crt" \
	"backup: STARTTLS without SSL_CERT_FILE"
x backup -- vigil healthcheck
grep -q 'start-up check failed' <<<"$OUT" && fail "backup: a start-up check failed with a CA store"

TRIED='tried /etc/ssl/certs/ca-certificates\.crt, /etc/pki/tls/certs/ca-bundle\.crt, /etc/ssl/ca-bundle\.pem, /etc/pki/tls/cacert\.pem, /etc/pki/ca-trust/extracted/pem/tls-ca-bundle\.pem, /etc/ssl/cert\.pem'
for s in plain-bookworm plain-trixie; do
	log "== $s: no CA store, no SSL_CERT_FILE"
	x "$s" -- sh -c 'test ! -e /etc/ssl/certs/ca-certificates.crt && ! command -v pg_dump'
	assert_eq 0 "$RC" "$s: a plain image (no CA bundle, no pg_dump)"
	x "$s" POSTGRES_HOST=pg -- vigil check-config
	expect 0 '^POSTGRES_HOST=pg$' "$s: check-config with POSTGRES_HOST=pg"
	x "$s" -- vigil notify --test
	expect 1 "no CA bundle found \(SSL_CERT_FILE is unset; $TRIED\)" "$s: notify --test without a CA store"
	for ((i = 0; i < 30; i++)); do
		x "$s" -- vigil healthcheck
		[[ $OUT == 503* ]] && break
		sleep 0.5
	done
	expect 1 "^503 .*start-up check failed: alerts over TLS \(EMAIL_USE_TLS\) cannot be sent: no CA bundle found \(SSL_CERT_FILE is unset; $TRIED\)" \
		"$s: /healthz at start"
	expect 1 'hint: install the ca-certificates package.*SSL_CERT_FILE' "$s: /healthz's hint"
	assert_eq true "$(docker inspect -f '{{.State.Running}}' "${CID[$s]}")" "$s: the daemon stays up"
	docker logs "${CID[$s]}" >"$T/$s.log" 2>&1
	assert_grep "ERROR start-up check failed: alerts over TLS \(EMAIL_USE_TLS\) cannot be sent: no CA bundle found" \
		"$T/$s.log" "$s: the ERROR at start"
done
log ok
