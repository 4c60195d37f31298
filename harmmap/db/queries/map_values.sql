-- One period of the current index for every 2022 ward (City of London wards included, unscored), with
-- one indicator's published figures beside it (none when the indicator parameter is not a slug).
SELECT w.ward_code, w.borough_code, w.city_of_london,
       i.score, i.rank_london, i.decile_london, i.rank_borough, i.decile_borough,
       coalesce(i.hotspot, 'no_data') AS hotspot, coalesce(i.lisa_cluster, 'no_data') AS lisa,
       wi.value, wi.rate_per_1000, wi.eb_pct
FROM geo.ward w
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = %(period)s AND i.ward_code = w.ward_code
LEFT JOIN harm.current_ward_indicator wi
       ON wi.version = %(version)s AND wi.period = %(period)s AND wi.ward_code = w.ward_code
      AND wi.indicator = %(indicator)s
WHERE w.vintage = 2022
ORDER BY w.ward_code
