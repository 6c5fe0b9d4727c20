#!/bin/bash
# `make lint` (scripts/lint.sh) passes on the tree and fails, with the exact
# line, on each kind of violation planted in a copy of src/: an include
# that points upward, one without its folder, a third-party header outside
# its home, a literal exit status, a file outside the layer folders.
set -u
. "$(dirname "$0")/lib.sh"
vigil_env
LINT=$IT_ROOT/scripts/lint.sh

fresh() {
	rm -rf "$T/tree"
	mkdir -p "$T/tree"
	cp -r "$IT_ROOT/src" "$T/tree/src"
}

fresh
assert_exit 0 bash "$LINT" "$T/tree"
assert_output_match '^lint: ok \([0-9]+ files\)$'

# base may not include pipeline
fresh
sed -i '0,/^#include "base\/log.h"/s//#include "base\/log.h"\n#include "pipeline\/catalog.h"/' "$T/tree/src/base/config.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/base/config\.c:[0-9]+: base includes pipeline \("pipeline/catalog\.h"\): includes point only downward \(base < infra < pipeline < cmd\); move what both need down a layer$'
assert_output_match '^lint: 1 violations$'

# infra may not include cmd
fresh
echo '#include "cmd/cmd.h"' >>"$T/tree/src/infra/db.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/infra/db\.c:[0-9]+: infra includes cmd \("cmd/cmd\.h"\)'

# an include without its folder
fresh
echo '#include "err.h"' >>"$T/tree/src/infra/lock.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/infra/lock\.c:[0-9]+: include "err\.h" without its folder'

# libpq outside db.c, libarchive outside tar.c
fresh
echo '#include <libpq-fe.h>' >>"$T/tree/src/pipeline/dump.c"
echo '#include <archive_entry.h>' >>"$T/tree/src/pipeline/media_write.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/pipeline/dump\.c:[0-9]+: <libpq-fe\.h> belongs in src/infra/db\.c only'
assert_output_match '^src/pipeline/media_write\.c:[0-9]+: <archive_entry\.h> belongs in src/infra/tar\.c only'
assert_output_match '^lint: 2 violations$'

# a project header in <> (found by -Isrc, but it would slip past the layer
# check) and a library header under a directory of its package
fresh
echo '#include <cmd/cmd.h>' >>"$T/tree/src/infra/lock.c"
echo '#include <postgresql/libpq-fe.h>' >>"$T/tree/src/pipeline/catalog.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/infra/lock\.c:[0-9]+: project header in <>: write it with quotes, #include "cmd/cmd\.h"'
assert_output_match '^src/pipeline/catalog\.c:[0-9]+: <postgresql/libpq-fe\.h> belongs in src/infra/db\.c only'

# literal exit statuses
fresh
printf 'static int f(void)\n{\n\treturn 3;\n}\n' >>"$T/tree/src/cmd/list.c"
printf 'static void g(int s)\n{\n\texit(128 + s);\n}\n' >>"$T/tree/src/pipeline/state.c"
printf 'static int h(int j)\n{\n\treturn j ? 2 : 1;\n}\nstatic int k(void)\n{\n\treturn (2);\n}\n' >>"$T/tree/src/cmd/verify.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/cmd/list\.c:[0-9]+: literal exit status \(return 3;\)'
assert_output_match '^src/pipeline/state\.c:[0-9]+: literal exit status \(exit\(128 \+ s\);\)'
assert_output_match '^src/cmd/verify\.c:[0-9]+: literal exit status \(return j \? 2 : 1;\)'
assert_output_match '^src/cmd/verify\.c:[0-9]+: literal exit status \(return \(2\);\)'
assert_output_match '^lint: 4 violations$'

# a path with .., a library's second header, exit(-1), s + 128
fresh
echo '#include "base/../cmd/cmd.h"' >>"$T/tree/src/base/log.c"
echo '#include <zconf.h>' >>"$T/tree/src/pipeline/dump.c"
printf 'static void q(int s)\n{\n\tif (s)\n\t\texit(-1);\n\t_exit(s + 128);\n}\n' >>"$T/tree/src/infra/lock.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/base/log\.c:[0-9]+: include "base/\.\./cmd/cmd\.h": name the header from src/'
assert_output_match '^src/pipeline/dump\.c:[0-9]+: <zconf\.h> belongs in src/infra/codec_gzip\.c only'
assert_output_match '^src/infra/lock\.c:[0-9]+: literal exit status \(exit\(-1\);\)'
assert_output_match '^src/infra/lock\.c:[0-9]+: literal exit status \(_exit\(s \+ 128\);\)'
assert_output_match '^lint: 4 violations$'

# a file outside the layer folders
fresh
echo 'int x;' >"$T/tree/src/stray.c"
assert_exit 1 bash "$LINT" "$T/tree"
assert_output_match '^src/stray\.c: not in a layer folder'
log "lint passes and catches each planted violation"
