-- Residents of an older vintage's wards: each LSOA's point on surface goes to the ward containing it; the
-- few that fall in no ward (generalised LSOA edges at the Thames or the London boundary) go to the
-- nearest. Returns how many fell in no ward.
WITH pts AS (SELECT lsoa_code, population, ST_PointOnSurface(geom) AS pt FROM geo.lsoa21),
placed AS (
    SELECT p.lsoa_code, p.population,
           (SELECT w.ward_code FROM geo.ward w
            WHERE w.vintage = %(vintage)s AND ST_Intersects(w.geom, p.pt)
            ORDER BY w.ward_code LIMIT 1) AS inside,
           (SELECT w.ward_code FROM geo.ward w
            WHERE w.vintage = %(vintage)s ORDER BY w.geom <-> p.pt LIMIT 1) AS nearest
    FROM pts p
), upd AS (
    UPDATE geo.ward w SET population = s.population
    FROM (SELECT coalesce(inside, nearest) AS ward_code, sum(population) AS population
          FROM placed GROUP BY 1) s
    WHERE w.vintage = %(vintage)s AND w.ward_code = s.ward_code
)
SELECT count(*) FILTER (WHERE inside IS NULL) AS n FROM placed
