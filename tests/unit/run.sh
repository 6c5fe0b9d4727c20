#!/bin/sh
# Run each unit-test binary given as an argument; print one summary line.
p=0; f=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | tail -n 1)
	tp=$(printf '%s' "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	tf=$(printf '%s' "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$tp" ]; then tp=0; tf=1; fi
	if [ "$rc" -ne 0 ] && [ "$tf" -eq 0 ]; then tf=1; fi
	[ "$tf" -ne 0 ] && { echo "== $t"; printf '%s\n' "$out" | grep -v '^ok '; }
	p=$((p + tp)); f=$((f + tf))
	echo "unit $(basename "$t"): $tp passed, $tf failed"
done
echo "unit: $p passed, $f failed"
[ "$f" -eq 0 ]
