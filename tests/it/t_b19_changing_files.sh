#!/bin/bash
# FIELD-CASES B19: files that grow or vanish while being read.
# (a) $MEDIA_DIR/growing.log (50 MB) gets 4 KiB appended in a loop during
#     the run; $MEDIA_DIR/tmp/ holds 2000 small files that a loop deletes
#     during the run. To make "vanished after listing" certain, tmp/ also
#     holds 000_big.bin (first in strcmp order, read before the small files):
#     the deleting loop starts only once vigil has 000_big.bin open, i.e.
#     after it listed tmp/. Then every small file is either archived or
#     vanished, whatever the timing.
#     Expect: exit 3, manifest result "warning"; each vanished file exactly
#     one WARN line naming it (stderr and backup.log), no archive entry, and
#     one manifest warning (the manifest keeps the first 1000, manifest.h); every small file not deleted in time
#     archived; I1; `tar -xzf` works; growing.log extracts at the size of its
#     header, equal to the start of the live file (cmp -n).
#     A sparse 256 MiB sparse.bin (data every other MiB) is cut to 64 MiB
#     once vigil has it open: archived at 256 MiB, the first 64 MiB equal,
#     the rest the original's data or zeros, and one "shrank" WARN.
# (b) MEDIA_DIR=$T/data, BACKUP_DIR=$T/data/backups, LOG_DIR=$T/data/logs:
#     two runs exit 0, no archive holds a backups/ or logs/ entry.
set -u
. "$(dirname "$0")/lib.sh"
it_setup

# ---------------------------------------------------------------- (a)
log "(a) setup"
head -c 50000000 /dev/urandom >"$MEDIA_DIR/growing.log"
mkdir "$MEDIA_DIR/tmp"
head -c 150000000 /dev/urandom >"$MEDIA_DIR/tmp/000_big.bin"
(cd "$MEDIA_DIR/tmp" && for ((i = 1; i <= 2000; i++)); do printf -v n '%04d' "$i"; printf 'small file %s\n' "$n" >"f$n.txt"; done)
assert_count 2000 "$MEDIA_DIR/tmp/f*.txt"
# A sparse file that shrinks while read (vigil stores files with holes as
# pax sparse entries): 256 MiB, 1 MiB of data every 2 MiB; cut to 64 MiB
# once vigil has it open. A copy keeps the original content.
truncate -s 256M "$MEDIA_DIR/sparse.bin"
for ((k = 0; k < 128; k++)); do
	head -c 1048576 /dev/urandom
done | "$PY" -c '
import sys
f = open(sys.argv[1], "r+b")
for k in range(128):
    f.seek(2 * k * 1048576)
    f.write(sys.stdin.buffer.read(1048576))
' "$MEDIA_DIR/sparse.bin"
cp --sparse=always "$MEDIA_DIR/sparse.bin" "$T/sparse.orig"
(($(stat -c %b "$MEDIA_DIR/sparse.bin") * 512 < 200 * 1048576)) || fail "setup: sparse.bin is not sparse"

# The writer: appends 4 KiB blocks until told to stop.
(while [[ ! -e $T/stop-writer ]]; do head -c 4096 /dev/urandom >>"$MEDIA_DIR/growing.log"; done) &
# The deleter: waits until some process has tmp/000_big.bin open (vigil,
# which listed tmp/ before opening it), then deletes the small files in
# batches of 100, newest names first.
(
	deadline=$((SECONDS + 60))
	while ! find /proc/[0-9]*/fd -lname "$MEDIA_DIR/tmp/000_big.bin" 2>/dev/null | grep -q .; do
		((SECONDS < deadline)) || { echo timeout >"$T/deleter-status"; exit 1; }
		sleep 0.01
	done
	echo started >"$T/deleter-status"
	cd "$MEDIA_DIR/tmp" || exit 1
	for ((b = 19; b >= 0; b--)); do
		batch=()
		for ((i = 100; i >= 1; i--)); do
			printf -v n 'f%04d.txt' $((b * 100 + i))
			batch+=("$n")
		done
		rm -f "${batch[@]}"
	done
	echo finished >>"$T/deleter-status"
) &
deleter=$!
# The cutter: sparse.bin to 64 MiB as soon as vigil has it open.
(
	deadline=$((SECONDS + 60))
	while ! find /proc/[0-9]*/fd -lname "$MEDIA_DIR/sparse.bin" 2>/dev/null | grep -q .; do
		((SECONDS < deadline)) || { echo timeout >"$T/cutter-status"; exit 1; }
		sleep 0.005
	done
	truncate -s 64M "$MEDIA_DIR/sparse.bin"
	echo cut >"$T/cutter-status"
) &
cutter=$!

ls_manifests >"$T/manifests-before"
assert_exit 3 vigil backup
touch "$T/stop-writer"
wait "$deleter"
wait "$cutter"
assert_contains "$T/deleter-status" started
assert_contains "$T/cutter-status" cut

m=$(new_manifests "$T/manifests-before")
[[ $(printf '%s\n' "$m" | grep -c .) == 1 ]] || fail "expected one new manifest, got: $m"
assert_eq warning "$(manifest_get "$m" result)" "run result"
assert_eq success "$(manifest_get "$m" artifacts.0.result)" "db artifact result"
assert_eq media "$(manifest_get "$m" artifacts.1.kind)" "second artifact kind"
assert_eq warning "$(manifest_get "$m" artifacts.1.result)" "media artifact result"
manifest_get "$m" artifacts.1.warnings >"$T/manifest-warnings.json"
check_i1
assert_no_temp "$BACKUP_DIR"
arch=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
[[ -f $arch ]] || fail "no media archive"

tar -tvzf "$arch" >"$T/listing" || fail "tar -tvzf fails"
mkdir "$T/x"
tar -xzf "$arch" -C "$T/x" || fail "tar -xzf fails"

# Exact bookkeeping of the small files, with Python for speed.
"$PY" - "$T/listing" "$ERR" "$LOG_DIR/backup.log" "$T/manifest-warnings.json" \
	"$MEDIA_DIR/tmp" "$T/x/tmp" <<-'EOF' || fail "(a) small-file bookkeeping, see above"
	import json, os, re, sys
	listing, err, blog, mwarn, live, extracted = sys.argv[1:]
	small = ["tmp/f%04d.txt" % i for i in range(1, 2001)]
	entries = [l.split()[-1] for l in open(listing) if l.strip()]
	dup = sorted({e for e in entries if entries.count(e) > 1})
	bad = []
	if dup:
	    bad.append("entries archived twice: %s" % dup[:5])
	def warns(path):
	    out = {}
	    for l in open(path, errors="replace"):
	        m = re.search(r" WARN media file (\S+): (.*)$", l.rstrip("\n"))
	        if m:
	            out.setdefault(m.group(1), []).append(m.group(2))
	    return out
	w_err, w_log = warns(err), warns(blog)
	mw = {}
	for w in json.load(open(mwarn)):
	    name, _, what = w.rpartition(": ")
	    mw.setdefault(name, []).append(what)
	archived = set(entries)
	vanished = 0
	for f in small:
	    exists = os.path.exists(os.path.join(live, os.path.basename(f)))
	    in_arch = f in archived
	    if in_arch:
	        data = open(os.path.join(extracted, os.path.basename(f))).read()
	        if data != "small file %s\n" % f[5:9]:
	            bad.append("%s: wrong content %r" % (f, data))
	        for src, w in (("stderr", w_err), ("backup.log", w_log), ("manifest", mw)):
	            if f in w:
	                bad.append("%s archived but warned in %s: %s" % (f, src, w[f]))
	    else:
	        vanished += 1
	        if exists:
	            bad.append("%s still exists but is not archived" % f)
	        for src, w in (("stderr", w_err), ("backup.log", w_log)):
	            if w.get(f) != ["vanished"]:
	                bad.append("%s vanished: expected one 'vanished' WARN in %s, got %s" % (f, src, w.get(f)))
	        if mw.get(f, ["vanished"]) != ["vanished"]:
	            bad.append("%s vanished: manifest warnings %s" % (f, mw.get(f)))
	# No warning about anything else but growing.log (at most one) and the small files.
	for src, w in (("stderr", w_err), ("backup.log", w_log), ("manifest", mw)):
	    for name, ws in w.items():
	        if name == "growing.log":
	            if len(ws) != 1 or not ws[0].startswith("changed while read"):
	                bad.append("growing.log warnings in %s: %s" % (src, ws))
	        elif name == "sparse.bin":
	            if ws != ["changed while read (shrank)"]:
	                bad.append("sparse.bin warnings in %s: %s" % (src, ws))
	        elif name not in small:
	            bad.append("unexpected warning in %s: %s: %s" % (src, name, ws))
	print("# small files: %d vanished, %d archived; growing.log warned: %s"
	      % (vanished, 2000 - vanished, w_err.get("growing.log")))
	# The manifest keeps the first 1000 warnings (manifest.h: "at most 1000
	# are kept"), in the order they happened, each once.
	nwarn = sum(len(v) for v in w_err.values())
	nm = sum(len(v) for v in mw.values())
	if nm != min(nwarn, 1000):
	    bad.append("manifest holds %d warnings, expected min(%d, 1000)" % (nm, nwarn))
	if vanished == 0:
	    bad.append("no file vanished: the test did not exercise the case")
	for b in bad[:20]:
	    print("   ", b)
	sys.exit(1 if bad else 0)
EOF

# growing.log: archived at its header size, equal to the live file's start.
hsize=$(awk '$NF == "growing.log" { print $3 }' "$T/listing")
[[ $hsize =~ ^[0-9]+$ ]] || fail "growing.log not in the archive listing"
((hsize >= 50000000)) || fail "growing.log archived with $hsize bytes, less than it had"
assert_eq "$hsize" "$(stat -c %s "$T/x/growing.log")" "extracted size of growing.log"
live=$(stat -c %s "$MEDIA_DIR/growing.log")
((live > hsize)) || fail "setup: growing.log did not grow after being archived ($live <= $hsize)"
cmp -n "$hsize" "$T/x/growing.log" "$MEDIA_DIR/growing.log" || fail "growing.log: archived bytes differ from the live file's start"
cmp "$T/x/tmp/000_big.bin" "$MEDIA_DIR/tmp/000_big.bin" || fail "000_big.bin differs"

# sparse.bin: archived at its header size (256 MiB); the first 64 MiB (never
# cut) equal the original; every 1 MiB block after that is either the
# original's or zeros (vigil hit the end of the cut file); zeros where the
# original had data only together with the one "shrank" WARN.
assert_eq 268435456 "$(awk '$NF == "sparse.bin" { print $3 }' "$T/listing")" "sparse.bin size in the listing"
"$PY" - "$T/sparse.orig" "$T/x/sparse.bin" "$ERR" <<-'EOF' || fail "sparse.bin extracted wrongly"
	import sys
	orig, got, err = sys.argv[1:]
	M = 1048576
	a, b = open(orig, "rb"), open(got, "rb")
	if len(b.read()) != 256 * M:
	    print("    extracted size differs"); sys.exit(1)
	a.seek(0); b.seek(0)
	zeroed = 0
	for k in range(256):
	    x, y = a.read(M), b.read(M)
	    if x == y:
	        continue
	    if k < 64 or y != bytes(M):
	        print("    block %d differs and is not zeros" % k); sys.exit(1)
	    zeroed += 1
	warned = " WARN media file sparse.bin: changed while read (shrank)" in open(err, errors="replace").read()
	print("# sparse.bin: %d data blocks read as zeros after the cut; WARN: %s" % (zeroed, warned))
	sys.exit(0 if warned or zeroed == 0 else 1)
EOF
log "growing.log: $hsize bytes archived, $live bytes live now"

# ---------------------------------------------------------------- (b)
log "(b) backup and log directories inside MEDIA_DIR"
export MEDIA_DIR=$T/data BACKUP_DIR=$T/data/backups LOG_DIR=$T/data/logs
mkdir -p "$MEDIA_DIR/uploads" "$BACKUP_DIR" "$LOG_DIR"
printf 'a\n' >"$MEDIA_DIR/uploads/a.txt"
printf 'b\n' >"$MEDIA_DIR/b.txt"
assert_exit 0 vigil backup
wait_next_second
assert_exit 0 vigil backup
assert_count 2 "$BACKUP_DIR/media/media_*.tar.gz"
for a in "$BACKUP_DIR"/media/media_*.tar.gz; do
	tar -tzf "$a" >"$T/list-b" || fail "tar -tzf $a"
	if grep -E '^(\./)?(backups|logs)(/|$)' "$T/list-b"; then
		fail "$a holds backups/ or logs/ entries"
	fi
	assert_eq "./ b.txt uploads/ uploads/a.txt" "$(sort "$T/list-b" | tr '\n' ' ' | sed 's/ $//')" \
		"entries of $a"
done
check_i1
log "B19 ok"
