-- Demo data for `make demo`: a small asset registry shaped like a Django
-- app's tables (app_label "registry"), in Spanish, with accents and ñ, a
-- jsonb column, dates, numeric values and foreign keys. Deterministic: rows
-- come from generate_series and fixed word arrays, never random(), so every
-- run dumps the same bytes (apart from pg_dump's \restrict key).
\set ON_ERROR_STOP 1
SET client_encoding = 'UTF8';

BEGIN;

CREATE TABLE django_migrations (
    id      bigserial PRIMARY KEY,
    app     varchar(255) NOT NULL,
    name    varchar(255) NOT NULL,
    applied timestamptz NOT NULL
);
INSERT INTO django_migrations (app, name, applied) VALUES
    ('contenttypes', '0001_initial', '2024-01-08 09:12:00+00'),
    ('auth', '0001_initial', '2024-01-08 09:12:01+00'),
    ('registry', '0001_initial', '2024-01-08 09:12:02+00'),
    ('registry', '0002_asset_metadatos', '2024-03-14 16:40:00+00'),
    ('registry', '0003_mantenimiento', '2024-09-02 11:05:00+00');

CREATE TABLE django_session (
    session_key  varchar(40) PRIMARY KEY,
    session_data text NOT NULL,
    expire_date  timestamptz NOT NULL
);
INSERT INTO django_session
SELECT md5('sesión' || g), 'eyJ1c3VhcmlvIjog' || g, timestamptz '2025-01-01 00:00+00' + g * interval '1 hour'
FROM generate_series(1, 50) g;

CREATE TABLE registry_category (
    id          serial PRIMARY KEY,
    nombre      varchar(100) NOT NULL UNIQUE,
    slug        varchar(100) NOT NULL UNIQUE,
    descripcion text NOT NULL DEFAULT '',
    vida_util_anios smallint NOT NULL CHECK (vida_util_anios > 0)
);
INSERT INTO registry_category (nombre, slug, descripcion, vida_util_anios) VALUES
    ('Equipos informáticos', 'equipos-informaticos', 'Ordenadores, portátiles y periféricos', 4),
    ('Mobiliario de oficina', 'mobiliario-oficina', 'Mesas, sillas, armarios y estanterías', 10),
    ('Vehículos', 'vehiculos', 'Camiones, furgonetas y turismos de la flota', 8),
    ('Maquinaria pesada', 'maquinaria-pesada', 'Grúas, excavadoras y compresores', 12),
    ('Herramientas eléctricas', 'herramientas-electricas', 'Taladros, sierras y amoladoras', 5),
    ('Instrumentos de medición', 'instrumentos-medicion', 'Niveles láser, multímetros y balanzas', 6),
    ('Telecomunicación', 'telecomunicacion', 'Radios, antenas, routers y teléfonos', 5),
    ('Señalización', 'senalizacion', 'Paneles, balizas y señales de obra', 7),
    ('Climatización', 'climatizacion', 'Calefactores, aires acondicionados y ventiladores', 9),
    ('Seguridad y protección', 'seguridad-proteccion', 'Extintores, cascos y arneses', 3);

CREATE TABLE registry_location (
    id        serial PRIMARY KEY,
    nombre    varchar(120) NOT NULL,
    ciudad    varchar(80) NOT NULL,
    direccion text NOT NULL,
    codigo_postal char(5) NOT NULL,
    latitud   numeric(9,6) NOT NULL,
    longitud  numeric(9,6) NOT NULL,
    UNIQUE (nombre, ciudad)
);
INSERT INTO registry_location (nombre, ciudad, direccion, codigo_postal, latitud, longitud)
SELECT
    (ARRAY['Almacén central', 'Oficina técnica', 'Taller mecánico', 'Depósito norte',
           'Sede administrativa', 'Nave logística'])[1 + (g - 1) % 6],
    (ARRAY['Logroño', 'A Coruña', 'Cádiz', 'León', 'Málaga', 'Cáceres', 'Ávila',
           'Córdoba', 'Jaén', 'Almería', 'Gijón', 'Peñíscola'])[1 + (g - 1) / 6 % 12],
    'Calle ' || (ARRAY['Peñalara', 'Begoña', 'Núñez de Balboa', 'Ibáñez', 'Cañada Real',
                       'Doña Urraca', 'Muñoz Seca', 'Castaño'])[1 + g % 8]
        || ', ' || (g * 7 % 120 + 1),
    lpad(((g * 1733) % 52000 + 1000)::text, 5, '0'),
    round(36.0 + (g * 0.137) % 7.5, 6),
    round(-8.9 + (g * 0.291) % 11.0, 6)
FROM generate_series(1, 72) g;

CREATE TABLE registry_asset (
    id                bigserial PRIMARY KEY,
    codigo            varchar(20) NOT NULL UNIQUE,
    nombre            varchar(200) NOT NULL,
    descripcion       text NOT NULL DEFAULT '',
    categoria_id      integer NOT NULL REFERENCES registry_category (id) ON DELETE RESTRICT,
    ubicacion_id      integer REFERENCES registry_location (id) ON DELETE SET NULL,
    estado            varchar(20) NOT NULL
        CHECK (estado IN ('operativo', 'en_reparacion', 'de_baja', 'en_almacen', 'extraviado')),
    fecha_adquisicion date NOT NULL,
    valor_compra      numeric(12,2) NOT NULL CHECK (valor_compra >= 0),
    valor_residual    numeric(12,2) NOT NULL,
    metadatos         jsonb NOT NULL DEFAULT '{}'::jsonb,
    creado_en         timestamptz NOT NULL,
    actualizado_en    timestamptz NOT NULL
);
CREATE INDEX registry_asset_categoria_id ON registry_asset (categoria_id);
CREATE INDEX registry_asset_ubicacion_id ON registry_asset (ubicacion_id);
CREATE INDEX registry_asset_metadatos_gin ON registry_asset USING gin (metadatos);

INSERT INTO registry_asset (codigo, nombre, descripcion, categoria_id, ubicacion_id, estado,
                            fecha_adquisicion, valor_compra, valor_residual, metadatos,
                            creado_en, actualizado_en)
SELECT
    'ACT-' || lpad(g::text, 6, '0'),
    (ARRAY['Portátil', 'Silla ergonómica', 'Furgoneta', 'Excavadora', 'Taladro percutor',
           'Nivel láser', 'Radio portátil', 'Baliza luminosa', 'Calefactor', 'Extintor'])[c]
        || ' ' || (ARRAY['modelo A', 'modelo B', 'serie Ñ', 'gama alta', 'gama media',
                         'versión 2024', 'de campaña', 'de repuesto', 'año 2023'])[1 + g % 9]
        || ' nº ' || g,
    'Adquirido para la obra de ' || (ARRAY['Logroño', 'A Coruña', 'Cádiz', 'León', 'Málaga',
                                          'Cáceres', 'Ávila', 'Córdoba'])[1 + g % 8]
        || '. Revisión: ' || (ARRAY['sin incidencias', 'daño leve en la carcasa',
                                    'pendiente de calibración', 'señal débil',
                                    'batería sustituida', 'año de garantía extendida'])[1 + g % 6]
        || '.',
    c,
    CASE WHEN g % 53 = 0 THEN NULL ELSE 1 + (g * 31) % 72 END,
    (ARRAY['operativo', 'operativo', 'operativo', 'en_reparacion', 'en_almacen',
           'de_baja', 'operativo', 'extraviado'])[1 + g % 8],
    date '2015-01-01' + (g * 37 % 3650),
    round((50 + (g * 7919) % 45000) + (g % 100) / 100.0, 2),
    round((50 + (g * 7919) % 45000) * ((g % 10) / 20.0), 2),
    jsonb_build_object(
        'numero_serie', 'SN-' || upper(substr(md5('serie' || g), 1, 10)),
        'proveedor', (ARRAY['Suministros Íñiguez S.L.', 'Ferretería Muñoz', 'Equipos Peña S.A.',
                            'Informática Castaño', 'Maquinaria Ibáñez'])[1 + g % 5],
        'garantia_meses', 12 * (1 + g % 4),
        'etiquetas', jsonb_build_array(
            (ARRAY['crítico', 'préstamo', 'exterior', 'frágil', 'inventariado'])[1 + g % 5],
            (ARRAY['año-2024', 'campaña-otoño', 'revisión-anual'])[1 + g % 3]),
        'notas', CASE WHEN g % 11 = 0 THEN 'Ubicación provisional; ¿trasladar a la nave?' END),
    timestamptz '2020-01-01 08:00+00' + g * interval '47 minutes',
    timestamptz '2020-01-01 08:00+00' + g * interval '47 minutes' + (g % 90) * interval '1 day'
FROM (SELECT g, 1 + (g * 7) % 10 AS c FROM generate_series(1, 3000) g) s;

CREATE TABLE registry_mantenimiento (
    id        bigserial PRIMARY KEY,
    asset_id  bigint NOT NULL REFERENCES registry_asset (id) ON DELETE CASCADE,
    fecha     date NOT NULL,
    tipo      varchar(30) NOT NULL,
    coste     numeric(10,2) NOT NULL,
    tecnico   varchar(100) NOT NULL,
    observaciones text NOT NULL DEFAULT ''
);
CREATE INDEX registry_mantenimiento_asset_id ON registry_mantenimiento (asset_id);
INSERT INTO registry_mantenimiento (asset_id, fecha, tipo, coste, tecnico, observaciones)
SELECT
    1 + (g * 13) % 3000,
    date '2021-06-01' + (g * 3 % 1200),
    (ARRAY['preventivo', 'correctivo', 'calibración', 'inspección'])[1 + g % 4],
    round(25 + (g * 389) % 2500 + (g % 7) * 0.15, 2),
    (ARRAY['José Martínez', 'Begoña Sáez', 'Iñaki Peña', 'Lucía Ordóñez', 'Álvaro Núñez'])[1 + g % 5],
    (ARRAY['Cambio de piezas desgastadas', 'Limpieza y engrase', 'Sustitución del filtro',
           'Ajuste de tensión', 'Sin observaciones', 'Se detecta óxido en la base'])[1 + g % 6]
FROM generate_series(1, 2000) g;

COMMIT;

ANALYZE;
