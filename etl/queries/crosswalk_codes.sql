SELECT ward_code FROM geo.ward WHERE vintage = %(vintage)s
