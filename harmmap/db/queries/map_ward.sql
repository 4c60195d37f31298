-- One 2022 ward with its place in one period of the current index (index columns NULL when the ward is
-- not in it, e.g. the City of London), and how many wards are ranked London-wide and in its borough.
SELECT w.ward_code, w.ward_name, w.borough_code, w.borough_name, w.population, w.city_of_london,
       i.score, i.coverage, i.rank_london, i.decile_london, i.rank_borough, i.decile_borough,
       coalesce(i.hotspot, 'no_data') AS hotspot, coalesce(i.lisa_cluster, 'no_data') AS lisa,
       i.gi_z, i.gi_p, i.lisa_p,
       (SELECT count(l.rank_london) FROM harm.current_ward_index l
        WHERE l.version = %(version)s AND l.period = %(period)s) AS n_london,
       (SELECT count(b.rank_borough) FROM harm.current_ward_index b
        WHERE b.version = %(version)s AND b.period = %(period)s AND b.borough_code = w.borough_code) AS n_borough
FROM geo.ward w
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = w.ward_code
WHERE w.vintage = 2022 AND w.ward_code = %(ward)s
