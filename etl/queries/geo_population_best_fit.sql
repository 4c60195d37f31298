-- Residents of the 2022 wards: Census 2021 LSOA populations summed by the ONS best-fit lookup.
UPDATE geo.ward w SET population = p.population
FROM (SELECT ward_code_2022 AS ward_code, sum(population) AS population
      FROM geo.lsoa21 GROUP BY 1) p
WHERE w.vintage = %(vintage)s AND w.ward_code = p.ward_code
