-- bench/gen-db.sql - the benchmark database: one asset-register table.
--
-- Shape of the reference user's data (an asset registry): a bigint key, an
-- inventory code, a Spanish description (accents, ñ), a site, a price
-- (numeric), an acquisition date, a small jsonb document and a uuid. With
-- the default of 1,500,000 rows the plain pg_dump is about 390 MB.
-- Deterministic: every random value comes from random() after setseed(), and
-- the uuid is derived from random() too (gen_random_uuid() ignores the seed).
--
-- Usage: psql -X -v ON_ERROR_STOP=1 -v filas=1500000 -d DB -f bench/gen-db.sql
\if :{?filas}
\else
\set filas 1500000
\endif
SELECT setseed(0.3141);

CREATE TABLE inventario (
	id           bigint PRIMARY KEY,
	codigo       text NOT NULL,
	denominacion text NOT NULL,
	sede         text,
	precio       numeric(12, 2),
	alta         date,
	ficha        jsonb,
	ref          uuid
);

CREATE TEMP TABLE vocab (w text[]);
INSERT INTO vocab VALUES (ARRAY[
	'sillón', 'estantería', 'ordenador', 'pupitre', 'fotocopiadora', 'camioneta',
	'vitrina', 'proyector', 'servidor', 'teléfono', 'grúa', 'señalización',
	'cañería', 'montaña', 'almacén', 'gestión', 'región', 'logística', 'depósito',
	'telecomunicación', 'estado', 'óptimo', 'aceptable', 'deteriorado', 'roble',
	'aluminio', 'policarbonato', 'gris', 'celeste', 'carmesí', 'pequeño', 'diseño']);

INSERT INTO inventario
SELECT g,
       'INV-' || to_char(g, 'FM000000000'),
       (SELECT array_to_string(ARRAY(
		SELECT v.w[1 + floor(random() * 32)::int]
		FROM generate_series(1, 4 + (g % 10)) AS k), ' ')),
       'Local ' || (g % 41) || ' / planta ' || (g % 6),
       round((random() * 95000 + 10)::numeric, 2),
       date '1999-06-01' + floor(random() * 9300)::int,
       jsonb_build_object('marca', md5((g * 7)::text),
			  'serie', floor(random() * 2e9)::bigint,
			  'vigente', g % 4 <> 0),
       md5(random()::text || ':' || g)::uuid
FROM generate_series(1, :filas) AS g, vocab AS v;

VACUUM (ANALYZE) inventario;
