SELECT count(*) AS pairs, count(DISTINCT from_code) AS sources,
       (SELECT count(*) FROM geo.ward WHERE vintage = %(from)s) AS wards
FROM geo.crosswalk WHERE from_vintage = %(from)s AND to_vintage = %(to)s
