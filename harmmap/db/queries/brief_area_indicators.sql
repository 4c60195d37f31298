-- One borough's (or London's) published figures for every indicator in one period, with the change
-- against the previous period (borough-only records count here, never in a ward).
SELECT indicator, value, respondents, rate_per_1000, pct, pct_lo, pct_hi,
       prev_value, prev_change, prev_p, prev_trend, synthetic
FROM harm.current_area_indicator
WHERE version = %(version)s AND period = %(period)s AND level = %(level)s AND area_code = %(area)s
