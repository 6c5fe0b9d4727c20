# shellcheck shell=bash
# tests/it/notify_lib.sh - loopback servers for the tests of vigil's mail,
# webhook and ping code, sourced after lib.sh and vigil_env (it needs $T).
# The servers are tests/it/tools/smtp_server.py and http_listener.py (run
# with $PY, Debian's python3, which has aiosmtpd); their headers say what
# they record. Each listens on 127.0.0.1, on a port the kernel picks, and is
# stopped when the test exits.
#
#   smtp_start NAME [OPTS...]  an SMTP server recording into $T/smtp.NAME.
#                     OPTS are smtp_server.py's: --tls none|starttls|implicit,
#                     --auth USER:PASS, --auth-fail, --reject-rcpt,
#                     --reject-rcpt-to ADDR, --greet-delay SECONDS,
#                     --no-greet (--cert/--key default to test_ca's). Sets
#                     SMTP_PORT, SMTP_DIR, SMTP_PID (the last started) and
#                     SMTP_PORT_NAME, SMTP_DIR_NAME, SMTP_PID_NAME.
#   http_start NAME MODE [--tls] [OPTS...]  an HTTP listener recording into
#                     $T/http.NAME; MODE: record, status:N,
#                     status-seq:N1,N2,..., blackhole, trickle. --tls serves
#                     HTTPS with test_ca's certificate. Sets HTTP_L_PORT,
#                     HTTP_L_DIR, HTTP_L_PID, HTTP_L_URL (http://127.0.0.1:PORT,
#                     or https://localhost:PORT) and the same with _NAME.
#   smtp_stop NAME, http_stop NAME   SIGTERM; asserts it exits 0 within 5 s
#                     (after that its port refuses connections).
#   smtp_msg_count [DIR]   how many messages DIR ($SMTP_DIR) holds (msg-N.eml).
#   http_req_count [DIR]   how many requests DIR ($HTTP_L_DIR) recorded.
#   smtp_commands [DIR]    the SMTP verbs received, in order, on one line
#                     ("EHLO MAIL RCPT DATA QUIT"); empty when none.
#   wait_for_file PATH SECS   wait until PATH exists; fail after SECS
#                     (whole seconds).
#   test_ca [DIR]     a test CA and a server certificate it signs, made once
#                     in DIR (default $T/ca): ca.pem, ca.key, server.pem,
#                     server.key (CN=smtp.test, SAN localhost, smtp.test,
#                     127.0.0.1), valid from 2000 to 2099 so that FAKETIME
#                     dates pass. Sets TEST_CA, TEST_CERT, TEST_KEY. Another
#                     DIR gives another CA (a certificate vigil must refuse).
# A message's or request's JSON record is read with lib.sh's manifest_get:
#   manifest_get "$SMTP_DIR/msg-1.json" auth_user
# NAME is letters, digits and _. The variables are not exported: vigil gets
# only what a test passes it (vigil EMAIL_PORT=$SMTP_PORT ...).

NOTIFY_TOOLS=$IT_ROOT/tests/it/tools
declare -gA _NOTIFY_LIVE=()

# _notify_start VAR_PREFIX NAME DIR SCRIPT ARGS...: start SCRIPT on port 0
# with --out DIR, wait for DIR/ready (5 s); sets PREFIX_PORT, _DIR, _PID
# and the same with _NAME.
_notify_start() {
	local prefix=$1 name=$2 dir=$3 script=$4 pid port i
	shift 4
	[[ $name =~ ^[A-Za-z0-9_]+$ ]] || fail "server name '$name': letters, digits and _ only"
	[[ -n ${T:-} && -d $T ]] || fail "no \$T: call vigil_env before starting test servers"
	[[ ! -e $dir ]] || fail "$dir exists: give each server of a test its own name"
	mkdir -p "$dir"
	PYTHONDONTWRITEBYTECODE=1 "$PY" "$NOTIFY_TOOLS/$script" --port 0 --out "$dir" "$@" >"$dir/server.log" 2>&1 &
	pid=$!
	_NOTIFY_LIVE[$pid]=1
	at_exit "_notify_kill $pid"
	for ((i = 0; i < 50; i++)); do
		[[ -e $dir/ready ]] && break
		_alive "$pid" || {
			show_file "$dir/server.log"
			fail "$script ($name) exited at start"
		}
		sleep 0.1
	done
	[[ -e $dir/ready ]] || {
		show_file "$dir/server.log"
		fail "$script ($name) not ready within 5 s"
	}
	port=$(<"$dir/port")
	printf -v "${prefix}_PORT" %s "$port"
	printf -v "${prefix}_DIR" %s "$dir"
	printf -v "${prefix}_PID" %s "$pid"
	printf -v "${prefix}_PORT_$name" %s "$port"
	printf -v "${prefix}_DIR_$name" %s "$dir"
	printf -v "${prefix}_PID_$name" %s "$pid"
	log "$script $name: port $port, pid $pid, records in ${dir/#$T/\$T}"
}

# _notify_kill PID: at exit, SIGTERM, then SIGKILL after 3 s; only a
# server still ours (not stopped and reaped: its pid may be another's now).
_notify_kill() {
	local i
	[[ -n ${_NOTIFY_LIVE[$1]:-} ]] || return 0
	unset "_NOTIFY_LIVE[$1]"
	kill -TERM "$1" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		_alive "$1" || break
		sleep 0.1
	done
	_alive "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# _notify_stop PID WHAT: SIGTERM, exit 0 within 5 s.
_notify_stop() {
	local pid=$1 what=$2 i rc
	[[ -n $pid ]] || fail "$what: not started"
	kill -TERM "$pid" 2>/dev/null || fail "$what (pid $pid) is not running"
	for ((i = 0; i < 50; i++)); do
		_alive "$pid" || break
		sleep 0.1
	done
	_alive "$pid" && fail "$what did not stop within 5 s of SIGTERM"
	wait "$pid"
	rc=$?
	unset "_NOTIFY_LIVE[$pid]"
	[[ $rc == 0 ]] || fail "$what exited $rc after SIGTERM, expected 0"
}

test_ca() {
	local dir=${1:-$T/ca} tmp
	TEST_CA=$dir/ca.pem
	TEST_CERT=$dir/server.pem
	TEST_KEY=$dir/server.key
	[[ -s $TEST_CA && -s $TEST_CERT && -s $TEST_KEY ]] && return 0
	mkdir -p "$dir"
	tmp=$(mktemp -d "$dir/.make.XXXXXX")
	: >"$tmp/index.txt"
	echo 1000 >"$tmp/serial"
	cat >"$tmp/ca.cnf" <<-EOF
		[ca]
		default_ca = test_ca
		[test_ca]
		database = $tmp/index.txt
		serial = $tmp/serial
		new_certs_dir = $tmp
		default_md = sha256
		policy = any_name
		unique_subject = no
		[any_name]
		commonName = supplied
		[ca_ext]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		[server_ext]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
		subjectAltName = DNS:localhost, DNS:smtp.test, IP:127.0.0.1
	EOF
	if ! {
		openssl req -new -newkey rsa:2048 -nodes -subj "/CN=vigil test CA" \
			-keyout "$tmp/ca.key" -out "$tmp/ca.csr" &&
			openssl ca -batch -notext -config "$tmp/ca.cnf" -selfsign -extensions ca_ext \
				-keyfile "$tmp/ca.key" -in "$tmp/ca.csr" -out "$tmp/ca.pem" \
				-startdate 20000101000000Z -enddate 20991231235959Z &&
			openssl req -new -newkey rsa:2048 -nodes -subj "/CN=smtp.test" \
				-keyout "$tmp/server.key" -out "$tmp/server.csr" &&
			openssl ca -batch -notext -config "$tmp/ca.cnf" -extensions server_ext \
				-cert "$tmp/ca.pem" -keyfile "$tmp/ca.key" -in "$tmp/server.csr" \
				-out "$tmp/server.pem" -startdate 20000101000000Z -enddate 20991231235959Z
	} >"$tmp/openssl.log" 2>&1; then
		show_file "$tmp/openssl.log"
		fail "test_ca: openssl failed"
	fi
	mv "$tmp/ca.key" "$tmp/ca.pem" "$tmp/server.key" "$dir/"
	mv "$tmp/server.pem" "$dir/"
	rm -rf "$tmp"
}

smtp_start() {
	local name=$1 a prev= tls=none cert=0
	shift
	for a in "$@"; do
		case $a in
		--cert | --cert=*) cert=1 ;;
		--tls=*) tls=${a#--tls=} ;;
		esac
		[[ $prev == --tls ]] && tls=$a
		prev=$a
	done
	if [[ $tls != none && $cert == 0 ]]; then
		test_ca
		set -- "$@" --cert "$TEST_CERT" --key "$TEST_KEY"
	fi
	_notify_start SMTP "$name" "$T/smtp.$name" smtp_server.py "$@"
}

http_start() {
	local name=$1 mode=$2 a args=() scheme=http host=127.0.0.1 url
	shift 2
	for a in "$@"; do
		if [[ $a == --tls ]]; then
			test_ca
			args+=(--cert "$TEST_CERT" --key "$TEST_KEY")
			scheme=https host=localhost
		else
			args+=("$a")
		fi
	done
	_notify_start HTTP_L "$name" "$T/http.$name" http_listener.py --mode "$mode" "${args[@]}"
	url=$scheme://$host:$HTTP_L_PORT
	HTTP_L_URL=$url
	printf -v "HTTP_L_URL_$name" %s "$url"
}

smtp_stop() { _notify_stop "$(_notify_var SMTP_PID "$1")" "smtp server $1"; }
http_stop() { _notify_stop "$(_notify_var HTTP_L_PID "$1")" "http listener $1"; }

# _notify_var PREFIX NAME: the value of PREFIX_NAME (empty when unset).
_notify_var() {
	local v=$1_$2
	printf '%s' "${!v:-}"
}

# _notify_count DIR GLOB: how many entries of DIR match GLOB.
_notify_count() {
	local n
	n=$(shopt -s nullglob; set -- "$1"/$2; echo $#)
	echo "$n"
}

smtp_msg_count() { _notify_count "${1:-$SMTP_DIR}" 'msg-*.eml'; }
http_req_count() { _notify_count "${1:-$HTTP_L_DIR}" 'req-*.json'; }

smtp_commands() {
	local f=${1:-$SMTP_DIR}/commands.log
	[[ -e $f ]] || return 0
	paste -sd ' ' "$f"
}

wait_for_file() { wait_until "$2" "file $1" test -e "$1"; }

# backup_fails_within SECONDS_MAX VAR=VALUE...: `vigil VAR=VALUE... backup`
# exits 1 within SECONDS_MAX ($OUT, $ERR as assert_exit leaves them): the
# run's own failure, whatever its alerts do, and their bound.
backup_fails_within() {
	local max=$1 t0 dt
	shift
	t0=$(now_us)
	assert_exit 1 vigil "$@" backup
	dt=$((($(now_us) - t0) / 1000))
	log "backup took $dt ms"
	((dt <= max * 1000)) || fail "vigil backup took $dt ms, more than $max s"
}
