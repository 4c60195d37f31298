SELECT ward_code AS to_code, ward_name, borough_name FROM geo.ward WHERE vintage = %(vintage)s
