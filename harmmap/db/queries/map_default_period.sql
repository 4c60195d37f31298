-- The period the map opens on: the latest financial year published, else the latest rolling 12 months,
-- else the latest period of any kind (the longer one when two end in the same month).
SELECT period
FROM harm.current_period
WHERE version = %(version)s
ORDER BY CASE kind WHEN 'fy' THEN 0 WHEN 'r12' THEN 1 ELSE 2 END, last_month DESC, first_month
LIMIT 1
