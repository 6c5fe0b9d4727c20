#!/bin/bash
# `make asan`'s test stage: the unit and integration suites against the
# AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/ (unit
# binaries given as arguments by the Makefile, vigil as build-asan/vigil).
#
# ASan and LSan reports go to files under build-asan/san/ (log_path), never
# only to a stderr that a test may have captured or discarded; the run fails
# when any report exists, even if every test passed. GCC's UBSan runtime,
# linked beside ASan's, ignores log_path and writes to stderr: the build
# uses -fno-sanitize-recover=undefined, so undefined behaviour also ends the
# process (a test then fails on its exit status), and the test logs (which
# hold every vigil command's stderr) are searched for "runtime error:". LeakSanitizer
# runs too (detect_leaks=1), with the suppressions in tests/lsan.supp, each
# with its reason. verify_asan_link_order=0: some tests preload a shim
# (LD_PRELOAD) in front of the instrumented binary, which ASan otherwise
# refuses; the shims only wrap libc calls.
# Last line: "asan: N passed, N failed, N sanitizer reports".
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
SAN=$ROOT/build-asan/san
rm -rf "$SAN" "$ROOT/build-asan/it-logs"
mkdir -p "$SAN"
export ASAN_OPTIONS="log_path=$SAN/asan:detect_leaks=1:verify_asan_link_order=0:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$SAN/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sh tests/unit/run.sh "$@" 2>&1 | tee "$tmp/unit"
urc=${PIPESTATUS[0]}
IT_SANITIZED=asan VIGIL=$ROOT/build-asan/vigil IT_LOGS=$ROOT/build-asan/it-logs \
	bash tests/it/run.sh 2>&1 | tee "$tmp/it"
irc=${PIPESTATUS[0]}

sum() { sed -nE "s/^$2: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p" "$1" | tail -n 1; }
read -r up uf < <(sum "$tmp/unit" unit; echo "0 1")
read -r ip if_ < <(sum "$tmp/it" it; echo "0 1")
((urc != 0 && uf == 0)) && uf=1
((irc != 0 && if_ == 0)) && if_=1
reports=0
for r in "$SAN"/*; do
	[[ -s $r ]] || continue
	reports=$((reports + 1))
	echo "== sanitizer report $r"
	head -n 40 "$r"
done
while IFS= read -r r; do
	reports=$((reports + 1))
	echo "== sanitizer report in $r"
	grep -m 5 -A 12 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$r"
done < <(grep -lE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$ROOT"/build-asan/it-logs/*.log 2>/dev/null)
echo "asan: $((up + ip)) passed, $((uf + if_)) failed, $reports sanitizer reports"
((urc == 0 && irc == 0 && uf + if_ == 0 && reports == 0))
