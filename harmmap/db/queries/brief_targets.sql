-- The strategy's targets for one borough (or London: area_code 'london'), as published with the index.
SELECT target, baseline_period, current_period, baseline, target_value, expected, current,
       gap, gap_lo, gap_hi, prob_on_track, status, synthetic
FROM harm.current_target
WHERE version = %(version)s AND level = %(level)s AND area_code = %(area)s
ORDER BY target
