#!/bin/bash
# `make check`'s test stage: unit tests (binaries given as arguments by the
# Makefile), then the integration tests. Both always run; the last line is
# the totals, "N passed, N failed", and the exit is 0 only if both passed.
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# counts FILE PREFIX: "P F" from the line "PREFIX: P passed, F failed";
# "0 1" when the runner died without its summary.
counts() {
	local line
	line=$(grep -E "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1)
	if [[ -z $line ]]; then
		echo "0 1"
	else
		sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' <<<"$line"
	fi
}

sh tests/unit/run.sh "$@" 2>&1 | tee "$tmp/unit"
urc=${PIPESTATUS[0]}
bash tests/it/run.sh 2>&1 | tee "$tmp/it"
irc=${PIPESTATUS[0]}

read -r up uf < <(counts "$tmp/unit" unit)
read -r ip if_ < <(counts "$tmp/it" it)
# A runner that failed without counting a failure still fails the check.
((urc != 0 && uf == 0)) && uf=1
((irc != 0 && if_ == 0)) && if_=1
echo "$((up + ip)) passed, $((uf + if_)) failed"
((urc == 0 && irc == 0 && uf + if_ == 0))
