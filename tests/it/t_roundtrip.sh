#!/bin/bash
# shellcheck disable=SC2016,SC2119 # shim bodies are single-quoted; lib functions take optional args
# The "Done when" round trip: a rich database and media tree survive
# `vigil backup` + `vigil restore --db latest --media latest --yes` exactly:
# pg_dump output before the backup equals the one after the restore, and the
# media tree has the same names, types, modes, mtimes, sizes and content.
set -u
# shellcheck source=tests/it/lib.sh
. "$(dirname "$0")/lib.sh"
require_vigil
pg_start
vigil_env

# ---- database: schemas, sequences, view, function, trigger, jsonb, bytea,
# a large object, accents and emoji.
sql "$(
	cat <<'EOF'
CREATE SCHEMA inventario;
CREATE SCHEMA "Año_fiscal";
CREATE TABLE inventario.categoria (id serial PRIMARY KEY, nombre text NOT NULL UNIQUE);
CREATE TABLE inventario.activo (
    id bigserial PRIMARY KEY,
    categoria_id int REFERENCES inventario.categoria(id),
    nombre text NOT NULL,
    datos jsonb NOT NULL DEFAULT '{}',
    foto bytea,
    precio numeric(12,2),
    alta date,
    actualizado timestamptz
);
CREATE SEQUENCE inventario.factura_seq START 1000 INCREMENT 7;
CREATE TABLE "Año_fiscal"."Cuentas" (año int PRIMARY KEY, saldo numeric, nota text);
INSERT INTO inventario.categoria (nombre) VALUES ('Señalización'), ('Maquinaria pesada'), ('Ñandú 🐦');
INSERT INTO inventario.activo (categoria_id, nombre, datos, foto, precio, alta)
SELECT 1 + g % 3,
       'Activo nº ' || g || ' – camión grúa, señal, pingüino 🚚✨',
       jsonb_build_object('serie', 'SN-' || g, 'etiquetas', jsonb_build_array('año', 'ñ', '😀'),
                          'anidado', jsonb_build_object('x', g, 'nulo', null)),
       decode(md5(g::text) || '00ff7f80', 'hex'),
       g * 10.25,
       date '2020-01-01' + g
FROM generate_series(1, 500) g;
INSERT INTO "Año_fiscal"."Cuentas" VALUES (2024, 12345.678, 'cierre del año'), (2025, -1.5, E'tab\there\nnewline \\ backslash ''quote''');
SELECT nextval('inventario.factura_seq') FROM generate_series(1, 13);
SELECT setval('inventario.activo_id_seq', 9000);
CREATE VIEW inventario.resumen AS
    SELECT c.nombre, count(*) AS n, sum(a.precio) AS total
    FROM inventario.activo a JOIN inventario.categoria c ON c.id = a.categoria_id
    GROUP BY c.nombre;
CREATE FUNCTION inventario.tocar() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.actualizado := now();
    RETURN NEW;
END $$;
CREATE TRIGGER activo_tocar BEFORE UPDATE ON inventario.activo
    FOR EACH ROW EXECUTE FUNCTION inventario.tocar();
COMMENT ON TABLE inventario.activo IS 'Activos con ñ y acentos: canción, pingüino 🐧';
CREATE TABLE public.documentos (id int PRIMARY KEY, contenido oid);
INSERT INTO public.documentos VALUES (1, lo_from_bytea(0, convert_to('objeto grande: año ñ 😀', 'UTF8') || '\x000102ff'::bytea));
CREATE TABLE public.vacia (id int);
EOF
)" >/dev/null || fail "creating the database failed"
fixture
pg_dump_norm >"$T/before.sql" || fail "pg_dump before"
grep -q 'lo_create\|lo_open' "$T/before.sql" || fail "setup: no large object in the dump"

# ---- media: nested dirs, an empty file, a symlink, non-ASCII names, modes.
rm -rf "$MEDIA_DIR"
mkdir -p "$MEDIA_DIR/uploads/2024/11" "$MEDIA_DIR/Año_2024/señales" "$MEDIA_DIR/vacío"
printf 'hola\n' >"$MEDIA_DIR/uploads/2024/11/a.txt"
head -c 100000 /dev/urandom >"$MEDIA_DIR/uploads/2024/11/random.bin"
printf '\xff\xd8\xff\xe0 ñandú \xff\xd9' >"$MEDIA_DIR/Año_2024/señales/señal_ñandú.jpg"
printf 'emoji\n' >"$MEDIA_DIR/Año_2024/😀 con espacio.txt"
: >"$MEDIA_DIR/empty.txt"
printf '#!/bin/sh\necho hi\n' >"$MEDIA_DIR/script.sh"
chmod 0755 "$MEDIA_DIR/script.sh"
chmod 0600 "$MEDIA_DIR/uploads/2024/11/a.txt"
chmod 0750 "$MEDIA_DIR/Año_2024"
ln -s uploads/2024/11/a.txt "$MEDIA_DIR/link_to_a"
ln -s ../señales "$MEDIA_DIR/Año_2024/señales/dir_link"
find "$MEDIA_DIR" -mindepth 1 -print0 | xargs -0 touch -h -d '2024-06-01 12:00:00 UTC'
touch -d '2023-01-02 03:04:05 UTC' "$MEDIA_DIR/uploads/2024/11/a.txt"
touch -d '2022-02-02 02:02:02 UTC' "$MEDIA_DIR/uploads"

media_list() {
	(cd "$MEDIA_DIR" && find . -mindepth 1 -printf '%P %y %m %T@ %s %l\n' | LC_ALL=C sort)
}
media_list >"$T/media-before.txt"
cp -a "$MEDIA_DIR" "$T/media-copy"

# ---- backup
assert_exit 0 vigil backup
assert_count 1 "$BACKUP_DIR/db/app_[0-9]*_[0-9]*.sql.gz"
assert_count 1 "$BACKUP_DIR/db/app_[0-9]*_[0-9]*.sql.gz.sha256"
assert_count 1 "$BACKUP_DIR/media/media_[0-9]*_[0-9]*.tar.gz"
assert_count 1 "$BACKUP_DIR/media/media_[0-9]*_[0-9]*.tar.gz.sha256"
assert_count 1 "$BACKUP_DIR/runs/*.json"
dbfile=$(echo "$BACKUP_DIR"/db/app_*.sql.gz)
mfile=$(echo "$BACKUP_DIR"/media/media_*.tar.gz)
[[ ${dbfile##*/} =~ ^app_[0-9]{8}_[0-9]{6}\.sql\.gz$ ]] || fail "db file name ${dbfile##*/}"
[[ ${mfile##*/} =~ ^media_[0-9]{8}_[0-9]{6}\.tar\.gz$ ]] || fail "media file name ${mfile##*/}"
for f in "$dbfile" "$mfile"; do
	gzip -t "$f" || fail "gzip -t $f"
	(cd "${f%/*}" && sha256sum -c "${f##*/}.sha256") || fail "sha256sum -c ${f##*/}.sha256"
done
check_i1
dump_complete "$dbfile" || fail "db dump does not end with the completion trailer"
assert_eq success "$(manifest_get "$BACKUP_DIR"/runs/*.json result)" "manifest result"
assert_no_temp "$BACKUP_DIR"
# The archive stores the symlinks as links.
tar -tvzf "$mfile" >"$T/tar-list.txt" || fail "tar -tvzf"
grep -q '^l.* link_to_a -> uploads/2024/11/a.txt$' "$T/tar-list.txt" || {
	show_file "$T/tar-list.txt"
	fail "link_to_a is not stored as a symlink"
}

# ---- change everything
wait_next_second
sql "DROP TABLE \"Año_fiscal\".\"Cuentas\";
     INSERT INTO items VALUES (1001, 'después del backup');
     UPDATE inventario.activo SET nombre = 'cambiado' WHERE id < 10;
     SELECT nextval('inventario.factura_seq');
     DELETE FROM public.documentos;
     SELECT lo_unlink(oid) FROM pg_largeobject_metadata;" >/dev/null || fail "changing the database failed"
rm -f "$MEDIA_DIR/uploads/2024/11/a.txt" "$MEDIA_DIR/empty.txt" "$MEDIA_DIR/link_to_a"
rm -rf "$MEDIA_DIR/Año_2024"
printf 'new file after the backup\n' >"$MEDIA_DIR/nuevo_después.txt"
chmod 0644 "$MEDIA_DIR/script.sh"

# ---- restore
assert_exit 0 vigil restore --db latest --media latest --yes

pg_dump_norm >"$T/after.sql" || fail "pg_dump after"
if ! diff -u "$T/before.sql" "$T/after.sql" >"$T/db.diff"; then
	show_file "$T/db.diff" 60
	fail "database after the restore differs from before the backup"
fi

media_list >"$T/media-after.txt"
if ! diff -u "$T/media-before.txt" "$T/media-after.txt" >"$T/media.diff"; then
	show_file "$T/media.diff" 60
	fail "media tree (names, types, modes, mtimes, sizes, link targets) differs"
fi
diff -r --no-dereference "$T/media-copy" "$MEDIA_DIR" >"$T/media-content.diff" || {
	show_file "$T/media-content.diff"
	fail "media content differs after the restore"
}
cmp "$T/media-copy/uploads/2024/11/random.bin" "$MEDIA_DIR/uploads/2024/11/random.bin" ||
	fail "random.bin differs"

# ---- safety copies of the state just before the restore
assert_count 1 "$BACKUP_DIR/db/pre_restore_*.sql.gz"
assert_count 1 "$BACKUP_DIR/media/pre_restore_*.tar.gz"
pre_db=$(echo "$BACKUP_DIR"/db/pre_restore_*.sql.gz)
pre_media=$(echo "$BACKUP_DIR"/media/pre_restore_*.tar.gz)
[[ ${pre_db##*/} =~ ^pre_restore_[0-9]{8}_[0-9]{6} ]] || fail "name ${pre_db##*/}"
[[ ${pre_media##*/} =~ ^pre_restore_[0-9]{8}_[0-9]{6} ]] || fail "name ${pre_media##*/}"
cat_any "$pre_db" | grep -q 'después del backup' ||
	fail "the db safety copy lacks the row inserted after the backup"
dump_complete "$pre_db" || fail "the db safety copy lacks the pg_dump trailer"
tar -tzf "$pre_media" | grep -q 'nuevo_después.txt' ||
	fail "the media safety copy lacks the file added after the backup"
check_i1
assert_no_temp "$BACKUP_DIR"
assert_no_temp "$MEDIA_DIR"
log "round trip ok"
