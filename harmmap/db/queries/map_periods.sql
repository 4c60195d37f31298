-- Every published period of the current index, months first, then quarters, financial years and rolling
-- 12 months, each in time order; with the indicators published for it (the map's layers). The index
-- writes an indicator's ward and area figures for exactly the same periods, so the one London row per
-- period and indicator answers this without reading the ward table.
-- Every map_* query names %(version)s (read from harm.current in the same snapshot) beside the view's own
-- join to harm.current: the primary keys lead with version, so the planner uses them even before the
-- freshly published tables have statistics.
SELECT p.period, p.kind, p.first_month, p.last_month, p.weights, p.dropped, p.synthetic, p.wards_ranked,
       ARRAY(SELECT a.indicator FROM harm.current_area_indicator a
             WHERE a.version = %(version)s AND a.period = p.period AND a.level = 'london') AS indicators
FROM harm.current_period p
WHERE p.version = %(version)s
ORDER BY array_position(ARRAY['month', 'quarter', 'fy', 'r12'], p.kind), p.first_month
