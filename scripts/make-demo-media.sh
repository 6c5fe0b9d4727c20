#!/bin/bash
# make-demo-media.sh DIR: write a small, deterministic media tree into DIR,
# like a Django app's MEDIA_ROOT: a few dozen JPEG-like images and PDFs in
# nested directories with Spanish (non-ASCII) names. Each file has a minimal
# valid-looking header and trailer around deterministic filler bytes, and a
# fixed mtime, so two runs produce identical trees.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
export LC_ALL=C.UTF-8

# filler SEED SIZE: SIZE deterministic bytes (text lines derived from SEED).
filler() {
	head -c "$2" < <(yes "$1 $(printf '%s' "$1" | sha256sum | cut -c1-48)")
}

# jpeg PATH SEED SIZE: SOI + JFIF APP0 header, filler, EOI.
jpeg() {
	mkdir -p "$(dirname "$dir/$1")"
	{
		printf '\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00'
		filler "$2" "$3"
		printf '\xff\xd9'
	} >"$dir/$1"
}

# pdf PATH TITLE SIZE: a one-page PDF skeleton with a comment body.
pdf() {
	mkdir -p "$(dirname "$dir/$1")"
	{
		printf '%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n'
		printf '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n'
		printf '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n'
		printf '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n'
		printf '%% %s\n' "$2"
		filler "$2" "$3" | sed 's/^/% /'
		printf '\ntrailer << /Root 1 0 R >>\n%%%%EOF\n'
	} >"$dir/$1"
}

i=0
for year in 2022 2023 2024; do
	for name in señal_ñandú cigüeña_en_el_campanario camión_grúa obra_logroño \
		almacén_central baliza_nº7; do
		i=$((i + 1))
		jpeg "Año_$year/${name}.jpg" "$year-$name" $((2048 + i * 517 % 9000))
	done
done
for n in 1 2 3 4 5 6 7 8; do
	jpeg "fotos/activos/ACT-00000$n/frontal.jpg" "frontal-$n" $((1500 + n * 733))
	jpeg "fotos/activos/ACT-00000$n/placa_de_características.jpg" "placa-$n" $((900 + n * 411))
done
pdf "documentos/informe_técnico.pdf" "Informe técnico de inspección" 6000
pdf "documentos/facturas/factura_2024-001_Peña.pdf" "Factura 2024-001" 3000
pdf "documentos/facturas/factura_2024-002_Ibáñez.pdf" "Factura 2024-002" 3200
pdf "documentos/manuales/manual_de_usuario_excavadora.pdf" "Manual de usuario" 12000
pdf "documentos/garantías/garantía_portátil_nº_42.pdf" "Garantía" 2500
pdf "contratos/contrato_mantenimiento_año_2025.pdf" "Contrato de mantenimiento" 4000
printf 'Notas del inventario: revisión de señalización pendiente.\n' >"$dir/documentos/léame.txt"

# Fixed times, files and directories alike (deepest first, so setting a
# file's time never disturbs a directory already set).
find "$dir" -mindepth 1 -depth -print0 | xargs -0 touch -h -d '2024-11-05 10:30:00 UTC'
