-- Need x response for every 2022 ward in one period: the harm index (need, London decile) beside police
-- activity per 100 recorded trafficking offences with its interval, and the quadrant decided at publish
-- (harm.response). City of London wards have neither (not MPS); a ward without a response row has no class.
SELECT w.ward_code, w.ward_name, w.borough_code, w.city_of_london,
       i.score, i.decile_london, i.rank_borough,
       coalesce(i.hotspot, 'no_data') AS hotspot, coalesce(i.lisa_cluster, 'no_data') AS lisa,
       r.activity, r.trafficking, r.per_100, r.per_100_lo, r.per_100_hi, r.vs_london, r.need_level, r.quadrant,
       r.synthetic
FROM geo.ward w
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = w.ward_code
LEFT JOIN harm.current_response r
       ON r.version = %(version)s AND r.period = %(period)s AND r.level = 'ward' AND r.area_code = w.ward_code
WHERE w.vintage = 2022
ORDER BY w.ward_code
