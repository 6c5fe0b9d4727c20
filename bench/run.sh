#!/bin/bash
# bench/run.sh - vigil's throughput against the usual shell pipelines (`make bench`).
#
# Builds (once, then cached) the benchmark data with the project's own
# generators: a database of 1.5 M asset rows (~390 MB plain dump, bench/gen-db.sql)
# and a ~400 MB media tree of 1500 files (bench/gen-media.py). Then runs vigil
# and every comparison method ALTERNATELY, BENCH_RUNS rounds (default 3) of
# each, in one throwaway PostgreSQL 15 cluster (tests/it/lib.sh pg_start),
# and prints medians of wall time, CPU seconds (user+sys, children included),
# peak RSS and output size, the vigil/comparison ratios and PASS/MISS per
# target. The final table is also written to build/bench-results.txt.
#
# Knobs (environment):
#   BENCH_RUNS=3           rounds per method (>= 1; the issue asks for >= 3)
#   BENCH_DOUBLE=1         also run everything with the data doubled
#                          (3 M rows, 3000 files / ~800 MB); takes long;
#                          BENCH_DOUBLE=only runs just the doubled data
#   BENCH_CACHE=DIR        cache of generated data (default /var/tmp/vigil-bench),
#                          keyed by the generators' checksum and the scale
#   BENCH_ONLY=db,media,restore   run only these parts (default: all three)
#   BENCH_RESULTS=FILE     default build/bench-results.txt
#   BENCH_ROWS, BENCH_FILES  the 1x scale (1500000 rows, 1500 files); smaller
#                          values make a quick smoke test of this script
#   VIGIL=PATH             binary under test (default build/vigil)
#   BENCH_AB="NAME=PATH ..."  other vigil binaries to run in the same rotation
#                          (A/B comparison of a change; reported as METHOD@NAME,
#                          the targets are judged on VIGIL only)
#
# Timing: GNU time (`/usr/bin/time -f '%e %U %S %M'`) around `bash -c CMD`,
# so CPU seconds include every child (pg_dump, gzip, psql ...). The server's
# own backend is not a child and is counted for nobody. Peak RSS (%M) is the
# largest single process of the tree (Linux ru_maxrss): for vigil runs that
# is max(vigil, pg_dump or psql), an upper bound for vigil itself.
# All clients talk to the server over TCP on 127.0.0.1 with a password, as
# vigil does.
set -uo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-3}
DOUBLE=${BENCH_DOUBLE:-0}
CACHE=${BENCH_CACHE:-/var/tmp/vigil-bench}
ONLY=${BENCH_ONLY:-db,media,restore}
RESULTS=${BENCH_RESULTS:-$BENCH_ROOT/build/bench-results.txt}
ROWS=${BENCH_ROWS:-1500000}
FILES=${BENCH_FILES:-1500}
BENCH_VIGIL=${VIGIL:-$BENCH_ROOT/build/vigil}
declare -A AB=()
for _ab in ${BENCH_AB:-}; do
	[[ $_ab == ?*=?* && -x ${_ab#*=} ]] || { echo "bench: bad BENCH_AB entry $_ab" >&2; exit 2; }
	AB[${_ab%%=*}]=${_ab#*=}
done

# shellcheck source=../tests/it/lib.sh
source "$BENCH_ROOT/tests/it/lib.sh"
IT_VIGIL_TIMEOUT=3600

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "BENCH_RUNS must be a positive number"
[[ -x $BENCH_VIGIL ]] || fail "no vigil binary at $BENCH_VIGIL (run: make)"

# ------------------------------------------------------------------ tools

bench_deps() {
	local need=() p
	[[ -x /usr/bin/time ]] || need+=(time)
	command -v pigz >/dev/null || need+=(pigz)
	command -v zstd >/dev/null || need+=(zstd)
	command -v python3 >/dev/null || need+=(python3)
	command -v bc >/dev/null || need+=(bc)
	((${#need[@]} == 0)) && return 0
	[[ $(id -u) -eq 0 ]] || fail "bench needs: ${need[*]} (apt-get install them as root)"
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >/dev/null ||
		fail "apt-get install ${need[*]} failed"
	for p in "${need[@]}"; do
		[[ $p == time ]] && p=/usr/bin/time
		command -v "$p" >/dev/null || fail "$p still missing"
	done
}
bench_deps

mkdir -p "$CACHE" || fail "cannot create $CACHE"
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
chmod 0755 "$WORK"
at_exit "rm -rf '$WORK'"
RAW=$WORK/raw.tsv
: >"$RAW"

# ------------------------------------------------------------------ data

# gen_key FILE SCALE: cache key = checksum of the generator + the scale.
gen_key() { { sha256sum <"$1"; echo "$2"; } | sha256sum | cut -c1-16; }

# ensure_media FILES: print the path of the cached media tree of FILES files.
ensure_media() {
	local files=$1 key dir
	key=$(gen_key "$BENCH_ROOT/bench/gen-media.py" "$files")
	dir=$CACHE/media-$files-$key
	if [[ ! -f $dir/READY ]]; then
		say "generating the media tree ($files files) into $dir (cached for later runs)"
		rm -rf "$dir"
		mkdir -p "$dir/tree"
		python3 "$BENCH_ROOT/bench/gen-media.py" "$dir/tree" "$files" >"$dir/bytes" ||
			fail "gen-media.py failed"
		touch "$dir/READY"
	fi
	echo "$dir/tree"
}

# ensure_db ROWS: start cluster "bench" holding database app with ROWS rows
# of bench/gen-db.sql, from the cache (a copy of a stopped cluster's data
# directory) or generated now and then cached.
ensure_db() {
	local rows=$1 key dir conf
	key=$(gen_key "$BENCH_ROOT/bench/gen-db.sql" "$rows-pg15")
	dir=$CACHE/db-$rows-$key
	pg_start bench >/dev/null
	if [[ ! -f $dir/READY ]]; then
		say "generating the database ($rows rows) into $dir (cached for later runs; minutes)"
		"$PGBIN/psql" -h "$PGHOST_T" -p "$PGPORT_T" -U postgres -d app -Xq -v ON_ERROR_STOP=1 \
			-v filas="$rows" -f "$BENCH_ROOT/bench/gen-db.sql" >/dev/null ||
			fail "gen-db.sql failed"
		sql "CHECKPOINT" postgres >/dev/null
		pg_server stop bench
		rm -rf "$dir"
		mkdir -p "$dir"
		cp -a "$PGDATA_T" "$dir/pgdata" || fail "cannot cache the data directory"
		touch "$dir/READY"
		pg_server start bench
	else
		say "database ($rows rows) from the cache $dir"
		conf=$(cat "$PGDATA_T/vigil_test.conf")
		pg_server stop bench
		rm -rf "$PGDATA_T"
		cp -a "$dir/pgdata" "$PGDATA_T" || fail "cannot copy the cached data directory"
		printf '%s\n' "$conf" >"$PGDATA_T/vigil_test.conf"
		chown -R postgres:postgres "$PGDATA_T"
		pg_server start bench
		# The cached cluster has its own password: give it this one.
		sql "ALTER ROLE postgres PASSWORD '$POSTGRES_PASSWORD'" postgres >/dev/null ||
			fail "cannot set the password"
	fi
	[[ $(sql "SELECT count(*) FROM inventario" app) == "$rows" ]] || fail "app.inventario lacks rows"
}

# ------------------------------------------------------------------ measuring

# The environment of the comparison commands: libpq over TCP with password.
pgenv() {
	printf 'PGHOST=127.0.0.1 PGPORT=%s PGUSER=postgres PGPASSWORD=%q PGDATABASE=app' \
		"$POSTGRES_PORT" "$POSTGRES_PASSWORD"
}

# vigil_cmd BACKUP_DIR [VAR=VAL...] -- ARGS: a command line running vigil.
vigil_cmd() {
	local bdir=$1 envs=()
	shift
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	printf 'env BACKUP_DIR=%q LOG_DIR=%q HTTP_LISTEN=off TZ=UTC ' "$bdir" "$WORK/logs"
	printf '%q ' "${envs[@]}" "${VBIN:-$BENCH_VIGIL}" "$@"
}

# measure SCALE METHOD ROUND OUTPUT CMD: run CMD (bash, pipefail) under GNU
# time; record wall, user, sys, peak RSS (KiB) and the size of OUTPUT (a
# file, a directory, or "-" for none; outputs are overwritten by the next
# round).
measure() {
	local scale=$1 method=$2 round=$3 out=$4 cmd=$5 e u s m size=0 tf=$WORK/time.out
	/usr/bin/time -f '%e %U %S %M' -o "$tf" bash -o pipefail -c "$cmd" \
		>"$WORK/cmd.out" 2>"$WORK/cmd.err"
	local rc=$?
	if ((rc != 0)); then
		show_file "$WORK/cmd.out" 20 >&2
		show_file "$WORK/cmd.err" 40 >&2
		fail "$method (round $round) exited $rc: $cmd"
	fi
	read -r e u s m < <(tail -n 1 "$tf")
	if [[ $out != - ]]; then
		size=$(du -sb --apparent-size "$out" | cut -f1)
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scale" "$method" "$round" "$e" "$u" "$s" "$m" \
		"$size" >>"$RAW"
	say "$(printf '%-6s %-22s round %d: %7.2f s wall, %7.2f s cpu, %6.1f MiB, %s bytes' \
		"$scale" "$method" "$round" "$e" "$(echo "$u + $s" | bc)" \
		"$(echo "scale=1; $m / 1024" | bc)" "$size")"
}

# vigil_out DIR SUBDIR: the one backup file vigil made in DIR/SUBDIR.
vigil_out() {
	local f
	f=$(find "$1/$2" -maxdepth 1 -type f ! -name '*.sha256' ! -name '.*' | head -n 1)
	[[ -n $f ]] || fail "vigil made no file in $1/$2"
	echo "$f"
}

bench_db() {
	local scale=$1 r o=$WORK/out env v
	env=$(pgenv)
	mkdir -p "$o"
	say "$scale db: warming up (pg_dump > /dev/null)"
	eval "$env pg_dump" >/dev/null || fail "warm-up pg_dump failed"
	for ((r = 1; r <= RUNS; r++)); do
		measure "$scale" "pg_dump>/dev/null" "$r" - "$env pg_dump >/dev/null"
		measure "$scale" "pg_dump|gzip-6" "$r" "$o/seed.sql.gz" "$env pg_dump | gzip -6 >$o/seed.sql.gz"
		measure "$scale" "pg_dump-Fc" "$r" "$o/fc.dump" "$env pg_dump -Fc >$o/fc.dump"
		measure "$scale" "pg_dump|pigz-6-p2" "$r" "$o/pigz.sql.gz" "$env pg_dump | pigz -6 -p 2 >$o/pigz.sql.gz"
		measure "$scale" "pg_dump|zstd-3-T2" "$r" "$o/z.sql.zst" "$env pg_dump | zstd -q -3 -T2 >$o/z.sql.zst"
		for v in "" "${!AB[@]}"; do
			VBIN=${v:+${AB[$v]}}
			rm -rf "$WORK/vb-gzip" "$WORK/vb-zstd"
			measure "$scale" "vigil-db-gzip${v:+@$v}" "$r" "$WORK/vb-gzip/db" \
				"$(vigil_cmd "$WORK/vb-gzip" BACKUP_COMPRESSION=gzip -- backup --db-only)"
			measure "$scale" "vigil-db-zstd${v:+@$v}" "$r" "$WORK/vb-zstd/db" \
				"$(vigil_cmd "$WORK/vb-zstd" BACKUP_COMPRESSION=zstd -- backup --db-only)"
		done
		VBIN=
	done
	# vigil's size column counts its .sha256 file too (about 100 bytes)
}

bench_media() {
	local scale=$1 tree=$2 r o=$WORK/out v
	mkdir -p "$o"
	say "$scale media: warming up (tar cf - > /dev/null)"
	tar cf - -C "$tree" . >/dev/null
	for ((r = 1; r <= RUNS; r++)); do
		measure "$scale" "tar-czf" "$r" "$o/m.tar.gz" "tar czf $o/m.tar.gz -C $tree ."
		measure "$scale" "tar-cf|pigz-p2" "$r" "$o/mp.tar.gz" "tar cf - -C $tree . | pigz -p 2 >$o/mp.tar.gz"
		measure "$scale" "tar-cf" "$r" "$o/m.tar" "tar cf $o/m.tar -C $tree ."
		for v in "" "${!AB[@]}"; do
			VBIN=${v:+${AB[$v]}}
			rm -rf "$WORK/vb-media"
			measure "$scale" "vigil-media-gzip${v:+@$v}" "$r" "$WORK/vb-media/media" \
				"$(vigil_cmd "$WORK/vb-media" BACKUP_COMPRESSION=gzip MEDIA_DIR="$tree" -- backup --media-only)"
		done
		VBIN=
	done
	rm -rf "$WORK/vb-media"
}

bench_restore() {
	local scale=$1 r o=$WORK/out env seed vdir=$WORK/vb-restore v ROWS_NOW
	env=$(pgenv)
	mkdir -p "$o"
	# Inputs made once, untimed: the seed's dump.sql.gz and a vigil backup.
	seed=$o/restore-seed.sql.gz
	ROWS_NOW=$(sql "SELECT count(*) FROM inventario" app)
	say "$scale restore: making the inputs"
	eval "$env pg_dump" | gzip -6 >"$seed" || fail "pg_dump | gzip failed"
	rm -rf "$vdir"
	eval "$(vigil_cmd "$vdir" BACKUP_COMPRESSION=gzip -- backup --db-only)" >/dev/null 2>&1 ||
		fail "vigil backup for the restore failed"
	for ((r = 1; r <= RUNS; r++)); do
		sql "DROP DATABASE IF EXISTS r_seed" postgres >/dev/null 2>&1
		sql "CREATE DATABASE r_seed" postgres >/dev/null
		measure "$scale" "gunzip|psql-1" "$r" - \
			"gunzip -c $seed | $env PGDATABASE=r_seed psql -X -q -1 -v ON_ERROR_STOP=1 >/dev/null"
		sql "DROP DATABASE IF EXISTS r_seed" postgres >/dev/null 2>&1
		for v in "" "${!AB[@]}"; do
			VBIN=${v:+${AB[$v]}}
			sql "DROP DATABASE IF EXISTS r_vigil" postgres >/dev/null 2>&1
			measure "$scale" "vigil-restore${v:+@$v}" "$r" - \
				"$(vigil_cmd "$vdir" -- restore --db latest --yes --no-safety-backup --target-db r_vigil)"
			[[ $(sql "SELECT count(*) FROM inventario" r_vigil) == "$ROWS_NOW" ]] ||
				fail "vigil restore${v:+@$v}: row count differs"
			sql "DROP DATABASE IF EXISTS r_vigil" postgres >/dev/null 2>&1
		done
		VBIN=
	done
	rm -f "$seed"
	rm -rf "$vdir"
}

# bench_scale LABEL ROWS FILES
bench_scale() {
	local label=$1 rows=$2 files=$3 tree
	say "=== scale $label: $rows rows, $files media files; $RUNS rounds"
	if [[ ,$ONLY, == *,db,* || ,$ONLY, == *,restore,* ]]; then
		ensure_db "$rows"
		[[ ,$ONLY, == *,db,* ]] && bench_db "$label"
		[[ ,$ONLY, == *,restore,* ]] && bench_restore "$label"
		pg_stop bench
	fi
	if [[ ,$ONLY, == *,media,* ]]; then
		tree=$(ensure_media "$files")
		bench_media "$label" "$tree"
	fi
	rm -rf "$WORK/out" "$WORK/vb-"*
}

T0=$(date +%s)
[[ $DOUBLE == only ]] || bench_scale 1x "$ROWS" "$FILES"
if [[ $DOUBLE == 1 || $DOUBLE == only ]]; then
	bench_scale 2x $((2 * ROWS)) $((2 * FILES))
fi

mkdir -p "$(dirname "$RESULTS")"
{
	echo "# vigil bench $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg), $("$BENCH_VIGIL" version 2>/dev/null | head -n 1)"
	echo "# $RUNS rounds per method, alternating; medians; $(( $(date +%s) - T0 )) s in all"
	python3 "$BENCH_ROOT/bench/report.py" "$RAW"
} >"$RESULTS.tmp"
rc=$?
cp "$RAW" "${RESULTS%.txt}.tsv"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
echo "(also in ${RESULTS#"$BENCH_ROOT"/}; raw timings in ${RESULTS%.txt}.tsv)"
exit "$rc"
