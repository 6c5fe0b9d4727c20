#!/bin/bash
# make lint: the structure rules of docs/design.md ("Layers"), checked with
# grep so that they hold without anyone remembering them.
#   1. Every source file lives in one layer folder: src/base, src/infra,
#      src/pipeline or src/cmd (nothing directly in src/).
#   2. A project include names its folder ("infra/db.h") and points down or
#      sideways only: base < infra < pipeline < cmd.
#   3. Each third-party library's headers appear only in its home file(s).
#   4. No literal exit status outside the table in src/base/err.[ch]: no
#      exit()/_exit() with a number and no "128 + x" anywhere; in src/cmd no
#      "return N;" / "return (N);" with N > 0, no "return c ? N : M", no
#      "status = N" / "rc = N" (use EXIT_* and err_exit_code). The check is
#      textual: a number stored in another variable first passes it.
# Usage: scripts/lint.sh [ROOT]  (default: the repository). Prints one line
# per violation, "lint: ok" or "lint: N violations"; exit 0 only when clean.
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
n=0
bad() { echo "$1"; n=$((n + 1)); }

declare -A RANK=([base]=0 [infra]=1 [pipeline]=2 [cmd]=3)

# Third-party header (extended regex on the include's text) -> home files.
HOMES=(
	'libpq-fe\.h|libpq/|pg_config|postgres_ext\.h' 'src/infra/db.c'
	'archive\.h|archive_entry\.h'            'src/infra/tar.c'
	'cjson/|cJSON\.h'                        'src/infra/manifest.c'
	'zlib\.h|zconf\.h|libdeflate\.h'        'src/infra/codec_gzip.c'
	'zstd\.h|zstd_errors\.h|zdict\.h'       'src/infra/codec_zstd.c'
	'openssl/'                               'src/infra/digest.c'
	'microhttpd\.h'                          'src/infra/http.c'
	'curl/'                                  'src/infra/curl.c'
)

# code_lines FILE: "LINE:text" for each line that is not (only) a comment.
code_lines() {
	grep -nvE '^[[:space:]]*(/?\*|//)' "$1"
}

mapfile -t files < <(find src -type f \( -name '*.c' -o -name '*.h' \) | sort)
for f in "${files[@]}"; do
	layer=${f#src/}
	layer=${layer%%/*}
	if [[ $f != src/*/* || -z ${RANK[$layer]:-} ]]; then
		bad "$f: not in a layer folder (src/base, src/infra, src/pipeline, src/cmd)"
		continue
	fi
	me=${RANK[$layer]}
	while IFS=: read -r ln inc; do
		inc=${inc#*\"}
		inc=${inc%%\"*}
		if [[ $inc == *..* || $inc == ./* ]]; then
			bad "$f:$ln: include \"$inc\": name the header from src/ (\"<layer>/<file>.h\"), without . or .."
			continue
		fi
		if [[ $inc != */* ]]; then
			bad "$f:$ln: include \"$inc\" without its folder (write \"<layer>/$inc\")"
			continue
		fi
		to=${inc%%/*}
		if [[ -z ${RANK[$to]:-} || ! -f src/$inc ]]; then
			bad "$f:$ln: include \"$inc\": no such file src/$inc"
		elif ((RANK[$to] > me)); then
			bad "$f:$ln: $layer includes $to (\"$inc\"): includes point only downward (base < infra < pipeline < cmd); move what both need down a layer"
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
	while IFS=: read -r ln inc; do
		bad "$f:$ln: project header in <>: write it with quotes, #include \"${inc#*<}\" (layers are checked on those)"
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(base|infra|pipeline|cmd)/' "$f" |
		sed -E 's/>.*//')
	while IFS=: read -r ln inc; do
		for ((i = 0; i < ${#HOMES[@]}; i += 2)); do
			if [[ $inc =~ [\</](${HOMES[i]}) ]]; then
				home=${HOMES[i + 1]}
				hdr=${inc#*<}
				[[ $f == "$home" ]] ||
					bad "$f:$ln: <${hdr%%>*}> belongs in $home only (one home per library: call a function of that file instead)"
			fi
		done
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$f")
	case $f in src/base/err.c | src/base/err.h) continue ;; esac
	while IFS=: read -r ln txt; do
		bad "$f:$ln: literal exit status ($(sed 's/^[[:space:]]*//' <<<"$txt")): use the table in src/base/err.h"
	done < <(code_lines "$f" | grep -E '(^|[^a-z_])(quick_|_)?exit[[:space:]]*\([[:space:]]*-?[0-9]|128[[:space:]]*\+[[:space:]]*[a-z_(]|[a-z_)][[:space:]]*\+[[:space:]]*128([^0-9]|$)')
	if [[ $layer == cmd ]]; then
		while IFS=: read -r ln txt; do
			bad "$f:$ln: literal exit status ($(sed 's/^[[:space:]]*//' <<<"$txt")): use EXIT_* or err_exit_code()"
		done < <(code_lines "$f" | grep -E 'return[[:space:](]+[1-9][0-9]*[[:space:])]*;|return[^;]*\?[[:space:]]*[0-9]+[[:space:]]*:[[:space:]]*[0-9]+|(^|[^a-z_])(status|rc)[[:space:]]*=[[:space:]]*[1-9][0-9]*[[:space:]]*;')
	fi
done
if ((n)); then
	echo "lint: $n violations"
	exit 1
fi
echo "lint: ok (${#files[@]} files)"
