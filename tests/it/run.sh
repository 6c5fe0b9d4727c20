#!/bin/bash
# Run vigil's integration tests: every tests/it/t_*.sh, or those named as
# arguments (t_roundtrip, roundtrip, t_roundtrip.sh, a path, or a prefix
# such as b13). Each runs in its own
# bash process under `timeout` (IT_TIMEOUT, default 900 s), its output goes
# to build/it-logs/NAME.log (IT_LOGS= another folder); a failure prints the last 30 lines of that log.
# The last line is "it: N passed, N failed"; exit 0 only if none failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
LOGS=${IT_LOGS:-$ROOT/build/it-logs}
mkdir -p "$LOGS"

tests=()
if (($# > 0)); then
	for a in "$@"; do
		n=${a##*/}
		n=${n%.sh}
		[[ $n == t_* ]] || n=t_$n
		if [[ -f tests/it/$n.sh ]]; then
			tests+=("tests/it/$n.sh")
		else
			# a prefix: t_b13 runs t_b13_same_second.sh
			m=(tests/it/"$n"_*.sh)
			if [[ -f ${m[0]} ]]; then tests+=("${m[@]}"); else tests+=("tests/it/$n.sh"); fi
		fi
	done
else
	for f in tests/it/t_*.sh; do
		[[ -e $f ]] && tests+=("$f")
	done
fi

# The test clusters speak Spanish (lc_messages = es_ES.UTF-8), as this
# project's operators' servers do: vigil must decide by SQLSTATE, catalogs
# and exit statuses, never by a server's (translated) message text. The
# locale is generated here with locale-gen (the locales package comes from
# scripts/deps.sh). IT_PG_LC_MESSAGES= (empty) runs them in English.
if [[ -z ${IT_PG_LC_MESSAGES+set} ]]; then
	export IT_PG_LC_MESSAGES=es_ES.UTF-8
	if ! locale -a 2>/dev/null | grep -qix 'es_ES.utf8'; then
		grep -qx 'es_ES.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null ||
			echo 'es_ES.UTF-8 UTF-8' >>/etc/locale.gen
		locale-gen >/dev/null 2>&1 || { echo "it: locale-gen es_ES.UTF-8 failed" >&2; exit 1; }
	fi
fi

# Leftovers of a test that was killed before its own EXIT trap ran:
# clusters still running, tmpfs still mounted, temp dirs.
cleanup_state() {
	local st=$1 d m
	if [[ -f $st/clusters ]]; then
		while IFS= read -r d; do
			[[ -d $d ]] || continue
			if [[ -f $d/data/postmaster.pid ]]; then
				runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl \
					-D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1
			fi
			[[ ${IT_KEEP:-0} == 1 ]] || rm -rf "$d"
		done <"$st/clusters"
	fi
	if [[ -f $st/dirs ]]; then
		while IFS= read -r d; do
			[[ -d $d ]] || continue
			for m in $(findmnt -rn -o TARGET | grep -F "$d/" | sort -r); do
				umount -l "$m"
			done
			[[ ${IT_KEEP:-0} == 1 ]] || rm -rf "$d"
		done <"$st/dirs"
	fi
	rm -rf "$st"
}

passed=0
failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$LOGS/$name.log
	start=$SECONDS
	if [[ ! -f $t ]]; then
		echo "no such test: $t" >"$log"
		rc=127
	else
		st=$(mktemp -d /tmp/vigil-itstate.XXXXXX)
		IT_STATE_DIR=$st timeout -k 10 "${IT_TIMEOUT:-900}" bash "$t" </dev/null >"$log" 2>&1
		rc=$?
		((rc == 124)) && echo "run.sh: killed after ${IT_TIMEOUT:-900} s" >>"$log"
		cleanup_state "$st"
	fi
	secs=$((SECONDS - start))
	if ((rc == 0)); then
		passed=$((passed + 1))
		echo "ok $name (${secs}s)"
	else
		failed=$((failed + 1))
		echo "FAIL $name (${secs}s) rc=$rc, log: build/it-logs/$name.log"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
done
echo "it: $passed passed, $failed failed"
((failed == 0))
