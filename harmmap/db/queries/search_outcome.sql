-- The drug searches' find rate for one area (a borough or London) in one period (harm.search_outcome).
SELECT period, level, area_code, searches, unlocated, recorded, found, find_pct, find_lo, find_hi, synthetic
FROM harm.current_search_outcome
WHERE version = %(version)s AND period = %(period)s AND level = %(level)s AND area_code = %(code)s
