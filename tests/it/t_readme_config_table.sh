#!/bin/bash
# The README's variable table is the one `vigil check-config --markdown`
# prints from the config table in src/base/config.c, line for line: a variable
# added to the code without the docs (or the other way round) fails here.
set -u
. "$(dirname "$0")/lib.sh"
require_vigil

"$VIGIL" check-config --markdown >"$IT_TMP/table.md" || fail "check-config --markdown failed"
head=$(head -n 1 "$IT_TMP/table.md")
n=$(wc -l <"$IT_TMP/table.md")
start=$(grep -nxF -- "$head" "$IT_ROOT/README.md" | head -n 1 | cut -d: -f1)
[[ -n $start ]] || fail "README.md has no variable table starting with: $head"
sed -n "${start},$((start + n - 1))p" "$IT_ROOT/README.md" >"$IT_TMP/readme.md"
if ! diff -u "$IT_TMP/readme.md" "$IT_TMP/table.md"; then
	fail "README.md's variable table differs from check-config --markdown (regenerate it)"
fi
log "README table: $((n - 2)) variables, identical"
