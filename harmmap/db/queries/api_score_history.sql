-- Wards' harm index in some periods of the current index (the ranking's trend: previous period, a year before).
SELECT ward_code, period, score, rank_london
FROM harm.current_ward_index
WHERE version = %(version)s AND period = ANY(%(periods)s) AND ward_code = ANY(%(wards)s)
