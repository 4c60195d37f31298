-- Police activity against need for every 2022 ward of one period (harm.response, level 'ward').
SELECT area_code AS ward_code, activity, trafficking, per_100, per_100_lo, per_100_hi, vs_london, need_level,
       quadrant, synthetic
FROM harm.current_response
WHERE version = %(version)s AND period = %(period)s AND level = 'ward'
