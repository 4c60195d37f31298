-- One area's published figures for two periods (the window of a diagnostic): every indicator's count,
-- pounds or agreeing respondents, and PAS respondents. %(level)s is 'ward' (harm.current_ward_indicator),
-- or 'borough' / 'london' (harm.current_area_indicator).
SELECT period, indicator, value, respondents
FROM harm.current_area_indicator
WHERE version = %(version)s AND level = %(level)s AND area_code = %(code)s AND period = ANY(%(periods)s)
  AND %(level)s <> 'ward'
UNION ALL
SELECT period, indicator, value, respondents
FROM harm.current_ward_indicator
WHERE version = %(version)s AND ward_code = %(code)s AND period = ANY(%(periods)s)
  AND %(level)s = 'ward'
