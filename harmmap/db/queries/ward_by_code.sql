-- One 2022 ward by its GSS code, with its borough.
SELECT ward_code, ward_name, borough_code, borough_name, city_of_london
FROM geo.ward
WHERE vintage = 2022 AND ward_code = %(code)s
