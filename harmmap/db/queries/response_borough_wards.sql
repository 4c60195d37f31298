-- Police activity against need for the 2022 wards of one borough in one period (harm.response, level 'ward'),
-- with each ward's name and place on need (borough rank, London decile of the harm index): what the borough
-- briefing lists as tasking candidates and possible over-attention. Most need first.
SELECT r.area_code AS ward_code, w.ward_name, i.rank_borough, i.decile_london, r.activity, r.trafficking,
       r.per_100, r.per_100_lo, r.per_100_hi, r.vs_london, r.need_level, r.quadrant, r.synthetic
FROM harm.current_response r
JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = r.area_code
LEFT JOIN harm.current_ward_index i ON i.version = r.version AND i.period = r.period AND i.ward_code = r.area_code
WHERE r.version = %(version)s AND r.period = %(period)s AND r.level = 'ward' AND w.borough_code = %(borough)s
ORDER BY i.rank_borough NULLS LAST, w.ward_name
