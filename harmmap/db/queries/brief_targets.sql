-- The strategy's targets for one borough (or London: area_code 'london'), as published with the index: the two
-- PAS measures first (role 'target', with mdc, the smallest change the survey could detect there), then the
-- earlier plan's activity targets, shown only as labelled diagnostics (role 'earlier_plan_diagnostic').
SELECT target, role, baseline_period, current_period, baseline, target_value, expected, current,
       gap, gap_lo, gap_hi, prob_on_track, status, mdc, synthetic
FROM harm.current_target
WHERE version = %(version)s AND level = %(level)s AND area_code = %(area)s
ORDER BY role <> 'target', target
