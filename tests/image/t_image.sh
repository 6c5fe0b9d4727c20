#!/bin/bash
# The image as built, without compose (C15's first half, item 2 and 3 of
# issue 12): its health check is /healthcheck (= vigil healthcheck) with the
# shipped interval/timeout/start period/retries; no curl or wget inside;
# ENTRYPOINT/CMD/STOPSIGNAL/volumes/env/labels as documented; vigil is a
# static binary (no PT_INTERP); pg_dump on PATH is PG_MAJOR's (15); tzdata
# and a CA bundle are there; the entrypoint passes vigil commands to vigil
# and runs anything else as given.
set -u
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/vigil-image.XXXXXX)
at_exit "rm -rf '$T'"
img=$VIGIL_IMAGE
q() { docker image inspect -f "$1" "$img"; }

assert_eq '{"Test":["CMD","/healthcheck"],"Interval":30000000000,"Timeout":10000000000,"StartPeriod":60000000000,"Retries":3}' \
	"$(q '{{json .Config.Healthcheck}}')" "HEALTHCHECK"
assert_eq '["/entrypoint"]' "$(q '{{json .Config.Entrypoint}}')" "ENTRYPOINT"
assert_eq '["serve"]' "$(q '{{json .Config.Cmd}}')" "CMD"
assert_eq SIGTERM "$(q '{{.Config.StopSignal}}')" "STOPSIGNAL"
assert_eq '{"/backups":{},"/logs":{},"/media":{}}' "$(q '{{json .Config.Volumes}}')" "VOLUME"
assert_eq '{"8080/tcp":{}}' "$(q '{{json .Config.ExposedPorts}}')" "EXPOSE"
assert_eq '' "$(q '{{.Config.User}}')" "USER (root by default)"
env=$(q '{{range .Config.Env}}{{println .}}{{end}}')
for v in BACKUP_DIR=/backups LOG_DIR=/logs MEDIA_DIR=/media HTTP_LISTEN=0.0.0.0:8080 \
	PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; do
	grep -qxF "$v" <<<"$env" || fail "ENV $v missing: $env"
done
for l in title description version revision; do
	[[ -n $(q "{{index .Config.Labels \"org.opencontainers.image.$l\"}}") ]] || fail "label org.opencontainers.image.$l missing"
done
log "labels: $(q '{{json .Config.Labels}}')"

# No curl, no wget: `command -v` finds neither (no path printed; dash
# says exit 127 for a name it cannot find).
out=$(docker run --rm --entrypoint sh "$img" -c 'command -v curl wget; echo "rc=$?"')
[[ $out == rc=1 || $out == rc=127 ]] || fail "curl or wget in the image: $out"

# vigil is static: no program interpreter, no dynamic section.
docker run --rm --entrypoint cat "$img" /usr/local/bin/vigil >"$T/vigil"
file "$T/vigil" | tee "$T/file"
assert_grep 'statically linked' "$T/file" "vigil is not statically linked"
readelf -lW "$T/vigil" >"$T/phdr"
assert_no_grep 'INTERP' "$T/phdr" "vigil has a PT_INTERP"

# What the runtime stage must hold, and nothing runs as a wrapper.
docker run --rm --entrypoint sh "$img" -c '
	set -e
	command -v pg_dump psql pg_restore
	pg_dump --version
	test -f /usr/share/zoneinfo/Europe/Madrid
	test -s /etc/ssl/certs/ca-certificates.crt
	test -x /entrypoint && test -x /healthcheck
	test ! -e /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease
' >"$T/rt" 2>&1 || { cat "$T/rt"; fail "runtime stage contents"; }
cat "$T/rt"
assert_eq /usr/lib/postgresql/15/bin/pg_dump "$(head -n 1 "$T/rt")" "pg_dump on PATH"
assert_grep '^pg_dump \(PostgreSQL\) 15\.' "$T/rt" "pg_dump is not 15"

# The entrypoint: a vigil command goes to vigil, an option too, anything
# else runs as given; `vigil version` names the pg_dump it found.
docker run --rm "$img" version >"$T/version" 2>&1 || fail "docker run IMG version failed"
cat "$T/version"
assert_grep '^vigil [0-9]' "$T/version" "version"
assert_grep '^pg_dump 15\.' "$T/version" "version: pg_dump"
docker run --rm "$img" --help >"$T/help" 2>&1
assert_grep 'vigil' "$T/help" "--help goes to vigil"
assert_eq "hello" "$(docker run --rm "$img" sh -c 'echo hello')" "a non-vigil command runs as given"
assert_eq "/usr/bin/readlink" "$(docker run --rm "$img" readlink /proc/1/exe)" \
	"a non-vigil command replaces the entrypoint (is PID 1)"
# check-config without a database answers exit 2 with the variable's name.
docker run --rm -e POSTGRES_DB=app -e BACKUP_SCHEDULE=bogus "$img" check-config >"$T/cc" 2>&1
rc=$?
assert_eq 2 "$rc" "check-config with a bad BACKUP_SCHEDULE"
assert_grep 'BACKUP_SCHEDULE' "$T/cc" "check-config names the variable"
log "ok"
