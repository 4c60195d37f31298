-- One vintage pair's weights; the weight column (population_weight or area_weight) is an identifier.
SELECT from_code, to_code, {weight} AS weight FROM geo.crosswalk
WHERE from_vintage = %(from)s AND to_vintage = %(to)s
