-- The indicators published for one period of the current index (see map_periods.sql).
SELECT a.indicator
FROM harm.current_area_indicator a
WHERE a.version = %(version)s AND a.period = %(period)s AND a.level = 'london'
