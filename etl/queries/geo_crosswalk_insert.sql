-- Area and population weights of each overlap (residents spread evenly over each LSOA); a source ward
-- whose overlaps hold no residents falls back to its area weights.
INSERT INTO geo.crosswalk (from_vintage, to_vintage, from_code, to_code, overlap_m2, area_weight, population_weight)
WITH pop AS (
    SELECT p.from_code, p.to_code,
           coalesce(sum(l.population * ST_Area(ST_Intersection(p.g, l.geom)) / nullif(ST_Area(l.geom), 0)), 0) AS residents
    FROM cw_pairs p LEFT JOIN geo.lsoa21 l ON ST_Intersects(p.g, l.geom)
    GROUP BY 1, 2
), w AS (
    SELECT p.from_code, p.to_code, p.overlap_m2,
           p.overlap_m2 / sum(p.overlap_m2) OVER (PARTITION BY p.from_code) AS area_weight,
           pop.residents, sum(pop.residents) OVER (PARTITION BY p.from_code) AS residents_total
    FROM cw_pairs p JOIN pop USING (from_code, to_code)
)
SELECT %(from)s, %(to)s, from_code, to_code, overlap_m2, area_weight,
       CASE WHEN residents_total > 0 THEN residents / residents_total ELSE area_weight END
FROM w
