#!/bin/bash
# shellcheck disable=SC2119 # lib functions take optional args
# TRIAL-0.1.0 F13: after a failed start-up pre-flight (database not up yet),
# /healthz kept "pre-flight failed: cannot connect" after the database came
# up, until the first run.
#   The daemon starts with the server stopped: 503 "pre-flight failed:
#   cannot connect", vigil_database_up 0. The server starts: within 20 s
#   /healthz is 200 {"status":"pending"} (no run yet, daemon young),
#   vigil_database_up 1, and the log says the pre-flight failure no longer
#   applies.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
it_setup

pg_server stop
daemon_spawn 1 vigil serve
http /healthz
assert_eq 503 "$HTTP_CODE" "/healthz with the database down at start"
assert_contains "$T/http.body" 'pre-flight failed: cannot connect'
assert_eq 0 "$(metric vigil_database_up)" "vigil_database_up while down"
pg_server start
healthy() { http /healthz; [[ $HTTP_CODE == 200 ]]; }
wait_until 20 "/healthz 200 once the database is up" healthy
assert_contains "$T/http.body" '"status":"pending"'
assert_eq 1 "$(metric vigil_database_up)" "vigil_database_up once up"
assert_contains "$DLOG" 'the start-up pre-flight failure no longer applies'
daemon_stop
log "pre-flight recovery ok"
