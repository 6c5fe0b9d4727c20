#!/bin/bash
# Commands that take no argument refuse one (exit 2, usage on stderr): a
# typo such as `vigil serve --bogus` started the daemon, and `check-config
# --bogus`, `version --bogus`, `help --bogus` passed for a success.
set -u
. "$(dirname "$0")/lib.sh"
it_setup
for cmd in serve healthcheck check-config version help; do
	assert_exit 2 vigil "$cmd" --bogus
	assert_contains "$ERR" "vigil $cmd: unknown argument --bogus"
	assert_contains "$ERR" "usage"
done
assert_exit 2 vigil check-config --markdown extra
assert_exit 0 vigil check-config --markdown
assert_exit 0 vigil version
log "commands without arguments refuse one"
