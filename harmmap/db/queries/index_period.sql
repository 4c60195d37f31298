-- One published period of the current index: every ward with names, score, ranks and hotspot class.
SELECT i.ward_code, w.ward_name, i.borough_code, w.borough_name, i.score, i.coverage,
       i.rank_london, i.decile_london, i.rank_borough, i.decile_borough,
       i.gi_z, i.gi_p, i.hotspot, i.lisa_cluster, i.synthetic
FROM harm.current_ward_index i
JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = i.ward_code
WHERE i.period = %(period)s
ORDER BY i.rank_london NULLS LAST, i.ward_code
