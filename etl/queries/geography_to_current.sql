-- An older ward code goes whole to the 2022 ward with most of its residents (2014 through 2018).
WITH chain AS (
    SELECT 2018 AS vintage, from_code, to_code, population_weight AS w
    FROM geo.crosswalk WHERE from_vintage = 2018 AND to_vintage = 2022
    UNION ALL
    SELECT 2014, a.from_code, b.to_code, sum(a.population_weight * b.population_weight)
    FROM geo.crosswalk a
    CROSS JOIN LATERAL (  -- OFFSET 0: a keyed lookup per row, even on never-analysed tables
        SELECT b.to_code, b.population_weight FROM geo.crosswalk b
        WHERE b.from_vintage = 2018 AND b.to_vintage = 2022 AND b.from_code = a.to_code OFFSET 0) b
    WHERE a.from_vintage = 2014 AND a.to_vintage = 2018
    GROUP BY 1, 2, 3)
SELECT DISTINCT ON (vintage, from_code) vintage, from_code, to_code
FROM chain ORDER BY vintage, from_code, w DESC, to_code
