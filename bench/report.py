#!/usr/bin/env python3
"""bench/report.py RAW.tsv - the table of bench/run.sh.

RAW.tsv lines: scale, method, round, wall s, user s, sys s, peak RSS KiB,
output bytes. Prints medians per method, vigil/comparison ratios and
PASS/MISS per target of the issue "Throughput at the hardware limit".
Exit status 0; with BENCH_STRICT=1, 1 when a target is missed.
"""
import os
import statistics
import sys
from collections import OrderedDict

rows = OrderedDict()
for line in open(sys.argv[1], encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if len(f) != 8:
        continue
    scale, method = f[0], f[1]
    wall, user, sys_, rss, size = float(f[3]), float(f[4]), float(f[5]), int(f[6]), int(f[7])
    rows.setdefault((scale, method), []).append((wall, user + sys_, rss, size))


def med(scale, method, i):
    v = rows.get((scale, method))
    return statistics.median(x[i] for x in v) if v else None


GROUPS = [
    ("database backup", ["pg_dump>/dev/null", "pg_dump|gzip-6", "pg_dump-Fc",
                         "pg_dump|pigz-6-p2", "pg_dump|zstd-3-T2",
                         "vigil-db-gzip", "vigil-db-zstd"]),
    ("media backup", ["tar-czf", "tar-cf|pigz-p2", "tar-cf", "vigil-media-gzip"]),
    ("database restore", ["gunzip|psql-1", "vigil-restore"]),
]
# (label, vigil method, comparison, column, limit); column 0 wall, 1 cpu, 2 rss, 3 size
TARGETS = [
    ("db gzip wall <= 0.30 x pg_dump|gzip-6", "vigil-db-gzip", "pg_dump|gzip-6", 0, 0.30),
    ("db gzip size <= 1.00 x pg_dump|gzip-6", "vigil-db-gzip", "pg_dump|gzip-6", 3, 1.00),
    ("db gzip CPU s <= 0.60 x pg_dump|gzip-6", "vigil-db-gzip", "pg_dump|gzip-6", 1, 0.60),
    ("db zstd wall <= 1.25 x pg_dump>/dev/null", "vigil-db-zstd", "pg_dump>/dev/null", 0, 1.25),
    ("media gzip wall <= 0.25 x tar czf", "vigil-media-gzip", "tar-czf", 0, 0.25),
    ("media gzip size <= 1.01 x tar czf", "vigil-media-gzip", "tar-czf", 3, 1.01),
    ("restore wall <= 1.10 x gunzip|psql -1", "vigil-restore", "gunzip|psql-1", 0, 1.10),
]
RSS_LIMIT_MIB = 64.0

missed = 0
for scale in OrderedDict((k[0], 1) for k in rows):
    n = max(len(v) for (s, _), v in rows.items() if s == scale)
    print(f"\n== scale {scale} (medians of {n} runs) ==")
    print(f"{'method':<26} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'output MB':>10}"
          f"   vigil/this: wall  CPU   size")
    for title, methods in GROUPS:
        present = [m2 for m in methods for (sc, m2) in rows
                   if sc == scale and m2.split("@")[0] == m]
        if not present:
            continue
        print(f"-- {title}")
        vig = [m for m in present if m.startswith("vigil") and "@" not in m]
        for m in present:
            w, c, r, s = (med(scale, m, i) for i in range(4))
            line = (f"{m:<26} {w:8.2f} {c:8.2f} {r / 1024:9.1f} "
                    f"{(s / 1e6 if s else 0):10.1f}" if s else
                    f"{m:<26} {w:8.2f} {c:8.2f} {r / 1024:9.1f} {'-':>10}")
            if not m.startswith("vigil"):
                for v in vig:
                    vw, vc, vs = med(scale, v, 0), med(scale, v, 1), med(scale, v, 3)
                    rs = f"{vs / s:5.3f}" if s and vs else "    -"
                    line += f"   {v[6:]:>11}: {vw / w:5.2f} {vc / c:5.2f} {rs}"
                    break
                for v in vig[1:]:
                    vw, vc, vs = med(scale, v, 0), med(scale, v, 1), med(scale, v, 3)
                    rs = f"{vs / s:5.3f}" if s and vs else "    -"
                    line += f"   {v[6:]:>9}: {vw / w:5.2f} {vc / c:5.2f} {rs}"
            if "@" in m and (scale, m.split("@")[0]) in rows:
                base = m.split("@")[0]
                bw, bc, bs = med(scale, base, 0), med(scale, base, 1), med(scale, base, 3)
                line += f"   vs {base[6:]}: wall {w / bw:5.2f} CPU {c / bc:5.2f}"
                line += f" size {s / bs:5.3f}" if s and bs else ""
            print(line)
    print(f"-- targets ({scale})")
    for label, v, cmp_, col, limit in TARGETS:
        a, b = med(scale, v, col), med(scale, cmp_, col)
        if a is None or b is None or b == 0:
            continue
        ratio = a / b
        ok = ratio <= limit
        missed += not ok
        print(f"  {'PASS' if ok else 'MISS'}  {label:<42} {ratio:6.3f}  ({a:.2f} vs {b:.2f})"
              if col != 3 else
              f"  {'PASS' if ok else 'MISS'}  {label:<42} {ratio:6.3f}  ({a:,.0f} vs {b:,.0f} bytes)")
    for m in ("vigil-db-gzip", "vigil-db-zstd", "vigil-media-gzip", "vigil-restore"):
        if (scale, m) not in rows:
            continue
        peak = max(x[2] for x in rows[(scale, m)]) / 1024
        ok = peak <= RSS_LIMIT_MIB
        missed += not ok
        print(f"  {'PASS' if ok else 'MISS'}  {'peak RSS ' + m + ' <= 64 MiB':<42} {peak:6.1f} MiB"
              f" (max of runs, largest process)")
print(f"\n{missed} target(s) missed")
sys.exit(1 if missed and os.environ.get("BENCH_STRICT") == "1" else 0)
