#!/bin/bash
# .env.prod.example (issue 12, item 4) is `vigil check-config --env-example`,
# made from the config table in src/base/config.c: a variable added to the
# code without the file (or the other way round) fails here; regenerate it
# with `make env-example`. And the file is what its header promises:
#   1. identical to the command's output;
#   2. every table variable (check-config --markdown) has exactly one line,
#      active or "#NAME=default", and no other variable line is there;
#   3. only POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD are active;
#   4. no value holds a quote, '$' or '#', and no '=' has spaces around it
#      (docker compose v1 and v2 read such lines alike);
#   5. the file loaded as an env_file unchanged (its active lines, plus
#      POSTGRES_DB) gives exactly the defaults: check-config prints the same
#      as with an empty environment; without POSTGRES_DB it is exit 2 naming
#      it.
#   6. every line uncommented at once still gives exactly the defaults (each
#      shows its default, or is empty where empty means the default).
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
vigil_env
F=$IT_ROOT/.env.prod.example

log "1. the committed file is the command's output"
"$VIGIL" check-config --env-example >"$IT_TMP/gen" || fail "check-config --env-example failed"
diff -u "$F" "$IT_TMP/gen" || fail ".env.prod.example differs from check-config --env-example (run make env-example)"

log "2. one line per variable of the table"
"$VIGIL" check-config --markdown | sed -n 's/^| `\([A-Z0-9_]*\)`.*/\1/p' | sort >"$IT_TMP/table"
grep -E '^#?[A-Z][A-Z0-9_]*=' "$F" | sed -E 's/^#?([A-Z0-9_]*)=.*/\1/' | sort >"$IT_TMP/file"
diff -u "$IT_TMP/table" "$IT_TMP/file" || fail "variables of the file differ from the table"
(($(wc -l <"$IT_TMP/table") >= 50)) || fail "suspiciously few variables: $(wc -l <"$IT_TMP/table")"

log "3. active lines"
assert_eq "POSTGRES_DB= POSTGRES_USER=postgres POSTGRES_PASSWORD=" \
	"$(grep -E '^[A-Z]' "$F" | tr '\n' ' ' | sed 's/ $//')" "active lines"

log "4. literal values"
if grep -nE '^#?[A-Z][A-Z0-9_]*(=.*["'"'"'$#]| =|= )' "$F"; then
	fail "a value line holds a quote, \$, # or a space around ="
fi

log "5. unchanged, it gives the defaults"
# The environment an env_file would give: its active lines (empty ones too).
mapfile -t active < <(grep -E '^[A-Z]' "$F")
assert_exit 0 env -i PATH="$PATH" TZ=UTC "${active[@]}" POSTGRES_DB=app "$VIGIL" check-config
cp "$OUT" "$IT_TMP/with_file"
assert_exit 0 env -i PATH="$PATH" TZ=UTC POSTGRES_DB=app "$VIGIL" check-config
diff -u "$OUT" "$IT_TMP/with_file" || fail "the example's active lines change a default"
assert_exit 2 env -i PATH="$PATH" TZ=UTC "${active[@]}" "$VIGIL" check-config
assert_contains "$ERR" "POSTGRES_DB is required"

log "6. every line uncommented gives the defaults too"
mapfile -t all < <(grep -E '^#?[A-Z][A-Z0-9_]*=' "$F" | sed 's/^#//')
assert_exit 0 env -i PATH="$PATH" "${all[@]}" POSTGRES_DB=app "$VIGIL" check-config
diff -u "$IT_TMP/with_file" "$OUT" || fail "an uncommented default changes the configuration"
log "env example ok"
