-- 2014 ward codes that are not codes of the given vintage: realistic "not a 2022 ward" mistakes.
SELECT ward_code FROM geo.ward o WHERE vintage = 2014
AND NOT EXISTS (SELECT 1 FROM geo.ward n WHERE n.vintage = %(vintage)s AND n.ward_code = o.ward_code)
ORDER BY ward_code
