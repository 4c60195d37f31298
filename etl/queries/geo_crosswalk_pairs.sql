-- The overlaps of each source ward with the target vintage's wards. An overlap that vanishes under an
-- inward buffer of sliver metres is a generalisation sliver and is dropped, unless the source ward has
-- no solid overlap at all: then its largest piece is kept.
CREATE TEMP TABLE cw_pairs ON COMMIT DROP AS
WITH raw AS (
    SELECT s.ward_code AS from_code, t.ward_code AS to_code,
           ST_CollectionExtract(ST_Intersection(s.geom, t.geom), 3) AS g
    FROM geo.ward s JOIN geo.ward t ON t.vintage = %(to)s AND ST_Intersects(s.geom, t.geom)
    WHERE s.vintage = %(from)s
), measured AS (
    SELECT from_code, to_code, g, ST_Area(g) AS overlap_m2,
           NOT ST_IsEmpty(ST_Buffer(g, -%(sliver)s)) AS solid
    FROM raw WHERE NOT ST_IsEmpty(g)
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY from_code ORDER BY overlap_m2 DESC) AS rk FROM measured
)
SELECT from_code, to_code, g, overlap_m2 FROM ranked
WHERE solid OR (rk = 1 AND NOT EXISTS (SELECT 1 FROM measured m WHERE m.from_code = ranked.from_code AND m.solid))
