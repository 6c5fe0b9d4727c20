#!/usr/bin/env python3
"""bench/gen-media.py - the benchmark media tree, deterministic.

Usage: gen-media.py DEST_DIR [FILES]   (FILES defaults to 1500, ~400 MB)

Like an asset registry's uploads: 70 % photos (random bytes: as
incompressible as JPEG data), 20 % scanned documents (a third random bytes,
the rest text: about half-compressible, like PDFs), 10 % text notes, in
sedes/<site>/<year>/ directories with Spanish names (accents, ñ). The same
FILES always gives the same bytes (a seeded PRNG, no clock, no os.urandom).
Prints the total byte count.
"""
import os
import random
import sys

VOCAB = ("inventario bien mueble sede año señalización almacén gestión "
         "región depósito oficina acta recepción baja alta conformidad").split()


def text_bytes(rng, n):
    out = []
    size = 0
    while size < n:
        w = rng.choice(VOCAB)
        out.append(w)
        size += len(w.encode()) + 1
    return " ".join(out).encode()[:n]


def main():
    dest = sys.argv[1]
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    rng = random.Random(20240917)
    total = 0
    for i in range(files):
        d = os.path.join(dest, "sedes", f"sede_{i % 8}", str(2018 + (i // 8) % 7))
        os.makedirs(d, exist_ok=True)
        r = rng.random()
        if r < 0.70:
            n = rng.randint(60_000, 590_000)
            data = rng.randbytes(n)
            name = f"imagen_{i:05d}_{rng.choice(VOCAB)}.jpg"
        elif r < 0.90:
            n = rng.randint(25_000, 395_000)
            data = rng.randbytes(n // 3) + text_bytes(rng, n - n // 3)
            name = f"expediente_{i:05d}.pdf"
        else:
            n = rng.randint(3_000, 99_000)
            data = text_bytes(rng, n)
            name = f"nota_{i:05d}_año_señal.txt"
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        total += len(data)
    print(total)


if __name__ == "__main__":
    main()
