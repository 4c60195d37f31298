-- Every 2022 ward of one borough by name: the pages of a borough none of whose wards is ranked (the
-- City of London).
SELECT ward_code FROM geo.ward WHERE vintage = 2022 AND borough_code = %(borough)s ORDER BY ward_name
