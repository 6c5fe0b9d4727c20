#!/bin/sh
# tools.sh - the C12 tools container (tests/image/c12/Dockerfile). From the
# environment: C12_DB_IP, C12_TOOLS_IP (this container), C12_LONG (the name
# whose answer is a long CNAME chain), C12_CERT_NAMES (comma-separated DNS
# names of the server certificate). Makes, in /run/certs (a volume the
# vigil containers mount read-only):
#   test-ca.pem            the test CA (what SSL_CERT_FILE names)
#   server.pem/.key        signed by it, for C12_CERT_NAMES
#   foreign.pem/.key       the same names, signed by another CA
# then serves, until stopped:
#   DNS (dnsmasq, UDP and TCP 53): pg.corp.test -> C12_DB_IP,
#       mailsrv.corp.test -> C12_TOOLS_IP, C12_LONG -> a chain of CNAMEs
#       ending at mailsrv.corp.test (over 512 bytes: a plain UDP answer is
#       truncated, TCP carries it); every other name under .test and
#       every single-label name: NXDOMAIN (not REFUSED: glibc would then
#       stop before trying the search domain); no upstream.
#   SMTP (smtp_server.py, recording into /run/smtp/PORT):
#       587 STARTTLS and 465 implicit TLS with server.pem;
#       2587 STARTTLS and 2465 implicit TLS with foreign.pem.
# /run/smtp/ready appears when all of it is up.
set -eu
: "${C12_DB_IP:?}" "${C12_TOOLS_IP:?}" "${C12_LONG:?}" "${C12_CERT_NAMES:?}"
mkdir -p /run/certs /run/smtp
cd /run/certs
rm -f ./*.pem ./*.key ./*.srl
ca() { # NAME: a self-signed CA NAME-ca.pem/.key
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=vigil C12 $1 CA" -keyout "$1-ca.key" -out "$1-ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
cert() { # NAME CA: NAME.pem/.key for C12_CERT_NAMES, signed by CA
	san=$(printf '%s' "$C12_CERT_NAMES" | sed 's/^/DNS:/; s/,/,DNS:/g')
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=${C12_CERT_NAMES%%,*}" -keyout "$1.key" -out "$1.csr"
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
		"$san" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2-ca.pem" -CAkey "$2-ca.key" -CAcreateserial \
		-days 3650 -extfile "$1.ext" -out "$1.pem"
	rm -f "$1.csr" "$1.ext"
}
{ ca test && ca other && cert server test && cert foreign other; } >/run/certs.log 2>&1 ||
	{ cat /run/certs.log >&2; exit 1; }
mv test-ca.pem test-ca.pem.tmp && rm -f ./*-ca.key other-ca.pem ./*.srl && mv test-ca.pem.tmp test-ca.pem
chmod 0644 ./*

# The CNAME chain: each link a 63-character label twice, so that 12 of
# them are well over 512 bytes even with name compression.
pad=$(printf '%063d' 0 | tr 0 x)
{
	echo "no-resolv"
	echo "no-hosts"
	echo "local=/test/"
	echo "domain-needed"
	echo "addn-hosts=/run/c12-hosts"
	prev=$C12_LONG
	i=1
	while [ "$i" -le 12 ]; do
		next="c$i.$pad.$pad.corp.test"
		echo "cname=$prev,$next"
		prev=$next
		i=$((i + 1))
	done
	echo "cname=$prev,mailsrv.corp.test"
} >/run/dnsmasq.conf
printf '%s pg.corp.test\n%s mailsrv.corp.test\n' "$C12_DB_IP" "$C12_TOOLS_IP" >/run/c12-hosts
dnsmasq --conf-file=/run/dnsmasq.conf --keep-in-foreground --log-facility=- --user=root &

smtp() { # PORT MODE CERT
	mkdir -p "/run/smtp/$1"
	python3 -c 'import sys; sys.path.insert(0, "/tools"); import smtp_server
smtp_server.HOST = "0.0.0.0"   # all interfaces: the vigil containers connect from outside
sys.argv[0] = "smtp_server.py"; smtp_server.main()' \
		--out "/run/smtp/$1" --port "$1" --tls "$2" --cert "/run/certs/$3.pem" \
		--key "/run/certs/$3.key" 2>"/run/smtp/$1.log" &
}
smtp 587 starttls server
smtp 465 implicit server
smtp 2587 starttls foreign
smtp 2465 implicit foreign
for p in 587 465 2587 2465; do
	i=0
	until [ -e "/run/smtp/$p/ready" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { cat "/run/smtp/$p.log" >&2; exit 1; }
		sleep 0.1
	done
done
: >/run/smtp/ready
echo "c12 tools ready"
wait
