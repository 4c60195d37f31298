-- Police activity against need for one area (a ward, a borough or London) in one period.
SELECT level, area_code, activity, trafficking, per_100, per_100_lo, per_100_hi, vs_london, need_level, quadrant,
       synthetic
FROM harm.current_response
WHERE version = %(version)s AND period = %(period)s AND level = %(level)s AND area_code = %(code)s
