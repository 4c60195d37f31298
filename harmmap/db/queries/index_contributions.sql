-- Why a ward ranks where it does: each weighted indicator's points of its score, largest first.
SELECT ward_code, indicator, contribution, value, rate_per_1000, eb_pct
FROM harm.current_ward_indicator
WHERE period = %(period)s AND ward_code = ANY(%(wards)s) AND contribution IS NOT NULL
ORDER BY ward_code, contribution DESC
